"""The file formats of record import and export: CSV and JSON lines (no I/O, no rules).

JSON lines carry one record per line in the REST API's shape. CSV carries one record per row
under a header row of field names; a cell holds the value as text (``true``/``false`` for bools,
numbers in their shortest form), except that the values of ``json`` and ``geopoint`` fields and
of multi-value fields (``select``, ``relation`` and ``file`` with ``maxSelect`` above 1) are
JSON-encoded, so a JSON string, an object or a list comes back exactly as it left.

Reading is incremental: :class:`RowReader` takes the body in chunks of bytes as they arrive and
hands back complete rows, so a large upload is never held whole in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from roost.core.errors import BadRequest, FieldError
from roost.core.schema.collection import Collection
from roost.core.schema.fields.base import Field, go_string

FORMATS = ("csv", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
#: keys of an exported record that are not fields: ignored on import
OUTPUT_ONLY = frozenset({"collectionId", "collectionName", "expand"})
#: write-only keys an auth collection's create takes besides its fields
AUTH_INPUT = frozenset({"passwordConfirm"})
_JSON_TYPES = frozenset({"json", "geopoint"})


def bad_input(message: str, key: str = "format", code: str = "validation_invalid_format") -> BadRequest:
    return BadRequest(message, {key: FieldError(code, message)})


def pick_format(requested: str, content_type: str = "") -> str:
    """``csv`` or ``jsonl`` from ``?format=``, else from the content type (default ``jsonl``)."""
    name = requested.strip().lower()
    if not name:
        ctype = content_type.split(";", 1)[0].strip().lower()
        name = "csv" if ctype in ("text/csv", "application/csv") else "jsonl"
    if name == "ndjson":
        name = "jsonl"
    if name not in FORMATS:
        raise bad_input("Unknown format: use csv or jsonl.")
    return name


def json_encoded(coll_field: Field | None) -> bool:
    """True when CSV carries this field's values JSON-encoded."""
    return coll_field is not None and (coll_field.type in _JSON_TYPES or coll_field.is_multiple())


# ---- writing -------------------------------------------------------------------------------


def csv_cell(value: Any, as_json: bool) -> str:
    if as_json:
        return orjson.dumps(value).decode()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return go_string(value)


def csv_lines(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


@dataclass
class CsvWriter:
    """CSV rows of presented records under a fixed header."""

    coll: Collection
    columns: list[str]

    def header(self) -> str:
        return csv_lines([self.columns])

    def rows(self, records: list[dict[str, Any]]) -> str:
        flags = [json_encoded(self.coll.get_field(c)) for c in self.columns]
        return csv_lines(
            [csv_cell(r.get(c), f) if c in r else "" for c, f in zip(self.columns, flags, strict=True)]
            for r in records
        )


def jsonl_rows(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


# ---- reading -------------------------------------------------------------------------------


@dataclass
class Row:
    """One data row: its 1-based number (the CSV header not counted) and its values, or the
    error that made it unreadable."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    error: FieldError | None = None


class RowReader:
    """Turns body chunks into rows; :meth:`feed` and :meth:`finish` return the rows completed."""

    def __init__(self, coll: Collection, fmt: str) -> None:
        self.coll = coll
        self.fmt = fmt
        self.columns: list[str] | None = None if fmt == "csv" else []
        self.count = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._text = ""
        self._pending = ""  # CSV: physical lines of a record whose quotes are still open
        self._started = False

    def feed(self, chunk: bytes) -> list[Row]:
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise bad_input("The body is not valid UTF-8.", "body", "validation_invalid_encoding") from exc
        if not self._started and text:
            text = text.removeprefix("\ufeff")
            self._started = True
        self._text += text
        lines, newline, self._text = self._text.rpartition("\n")
        return self._lines(lines.split("\n")) if newline else []

    def finish(self) -> list[Row]:
        try:
            tail = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise bad_input("The body is not valid UTF-8.", "body", "validation_invalid_encoding") from exc
        rows = self._lines([self._text + tail])
        self._text = ""
        if self._pending:
            raise bad_input(f"Malformed CSV at row {self.count + 1}: a quoted value is never closed.", "body", "validation_invalid_csv")
        if self.fmt == "csv" and self.columns is None:
            raise bad_input("The CSV has no header row.", "body", "validation_invalid_csv")
        return rows

    def _lines(self, lines: list[str]) -> list[Row]:
        rows = []
        for line in lines:
            row = self._csv_line(line) if self.fmt == "csv" else self._json_line(line)
            if row is not None:
                rows.append(row)
        return rows

    def _json_line(self, line: str) -> Row | None:
        if not line.strip():
            return None
        self.count += 1
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return Row(self.count, error=FieldError("validation_invalid_json", "The line is not valid JSON."))
        if not isinstance(value, dict):
            return Row(self.count, error=FieldError("validation_invalid_json", "The line is not a JSON object."))
        error = _file_values(self.coll, value)
        if error is not None:
            return Row(self.count, error=error)
        return Row(self.count, {k: v for k, v in value.items() if k not in OUTPUT_ONLY})

    def _csv_line(self, line: str) -> Row | None:
        text = self._pending + line + "\n" if self._pending else line + "\n"
        if text.count('"') % 2:  # a quoted value spans this line break: wait for its end
            self._pending = text
            return None
        self._pending = ""
        if not text.strip():
            return None
        try:
            cells = next(csv.reader([text.rstrip("\r\n")], strict=True))
        except csv.Error as exc:
            raise bad_input(f"Malformed CSV at row {self.count + 1}: {exc}.", "body", "validation_invalid_csv") from exc
        if self.columns is None:
            self.columns = _checked_header(self.coll, cells)
            return None
        self.count += 1
        if len(cells) != len(self.columns):
            message = f"Expected {len(self.columns)} values, got {len(cells)}."
            return Row(self.count, error=FieldError("validation_invalid_row", message))
        return _csv_row(self.coll, self.count, self.columns, cells)


def _checked_header(coll: Collection, cells: list[str]) -> list[str]:
    names = [c.strip() for c in cells]
    extra = OUTPUT_ONLY | AUTH_INPUT if coll.is_auth else OUTPUT_ONLY
    unknown = [n for n in names if n not in extra and coll.get_field(n) is None]
    if unknown:
        raise bad_input(f"Unknown columns for {coll.name}: {', '.join(unknown[:10])}.", "columns", "validation_unknown_columns")
    if len(set(names)) != len(names):
        raise bad_input("A column is repeated in the header.", "columns", "validation_duplicate_columns")
    return names


def _file_values(coll: Collection, values: dict[str, Any]) -> FieldError | None:
    """A row naming files: uploads go through the records API, an import cannot carry them."""
    files = [k for k, v in values.items() if v and (f := coll.get_field(k)) is not None and f.type == "file"]
    if not files:
        return None
    return FieldError("validation_file_columns", f"File fields cannot be imported: {', '.join(files)}.")


def _csv_row(coll: Collection, number: int, columns: list[str], cells: list[str]) -> Row:
    values: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=True):
        if name in OUTPUT_ONLY:
            continue
        coll_field = coll.get_field(name)
        if not json_encoded(coll_field):
            values[name] = cell
        elif cell == "":
            values[name] = None
        else:
            try:
                values[name] = orjson.loads(cell)
            except orjson.JSONDecodeError:
                return Row(number, error=FieldError("validation_invalid_json", f"The {name} column must hold JSON."))
    files = _file_values(coll, values)
    return Row(number, values) if files is None else Row(number, error=files)
