"""MySQL and MariaDB: the filter compiler's dialect hooks.

The connection runs with ``ANSI_QUOTES``, ``PIPES_AS_CONCAT`` and ``NO_BACKSLASH_ESCAPES`` and a
binary, no-pad utf8mb4 collation (see :mod:`roost.core.db.alchemy`), so the SQL the compiler
writes for SQLite (double-quoted names, ``||``, ``ESCAPE '\\'``) means the same here and text
compares exactly as in SQLite: case-sensitive, trailing spaces significant.

MySQL converts text to numbers when it compares them with numbers (``'abc' = 0`` is true), so
this dialect is *typed* like PostgreSQL's: the compiler converts operands to a common type
first, following SQLite's affinity rules. JSON is stored as text and read with ``JSON_*``
functions; ``JSON_TABLE`` plays the part of SQLite's ``json_each``.

MariaDB cannot refer to an outer query from inside a derived table (``FROM (SELECT ...)``), so
multi-valued operands are inlined as parenthesised joins (:meth:`MysqlDialect.source_table`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from roost.tools.filter.dialects import TypedDialect, json_path_segments
from roost.tools.filter.errors import FilterError

__all__ = ["COLLATION", "MysqlDialect"]

#: the collation every text column and the connection use (exact, code point order, no padding)
COLLATION = "utf8mb4_nopad_bin"

_NUMERIC_TEXT = r"^\s*[-+]?([0-9]{1,200}(\.[0-9]{0,200})?|\.[0-9]{1,200})([eE][-+]?[0-9]{1,2})?\s*$"
_MYSQL_FORMATS = {"d": "%d", "H": "%H", "j": "%j", "m": "%m", "M": "%i", "S": "%s", "Y": "%Y"}
_SOURCE_RE = re.compile(r"^SELECT (?P<value>.+?) AS v FROM (?P<from>\(SELECT 1 AS one\) AS .+)$", re.S)
_NUMBER_TYPES = "('INTEGER', 'DOUBLE', 'BOOLEAN')"
_TEXT_TYPES = "('STRING', 'OBJECT', 'ARRAY')"


class MysqlDialect(TypedDialect):
    """MySQL 8 / MariaDB 10.6+: typed comparisons, JSON as text, ``JSON_TABLE`` iteration."""

    name: ClassVar[str] = "mysql"
    typed: ClassVar[bool] = True

    def param(self, name: str, value: Any) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"CAST(:{name} AS DOUBLE)"
        return f":{name}"

    def adapt_value(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, str):
            return str(value)
        return value

    def is_expr(self, left: str, right: str, negate: bool) -> str:
        return f"(NOT ({left} <=> {right}))" if negate else f"({left} <=> {right})"

    def like_expr(self, left: str, pattern: str, negate: bool) -> str:
        # the binary collation makes LIKE case-sensitive; SQLite's LIKE is not
        return f"LOWER({left}) {'NOT ' if negate else ''}LIKE LOWER({pattern}) ESCAPE '\\'"

    def source_table(self, source: str, alias: str) -> tuple[str, str]:
        match = _SOURCE_RE.match(source)
        if match is None:  # pragma: no cover - every source is built in that shape
            raise FilterError("Unsupported multi-valued operand.")
        return f"({match.group('from')})", match.group("value")

    def to_text(self, sql: str, kind: str) -> str:
        if kind == "number":
            return f"CAST({sql} AS CHAR)"
        if kind == "bool":
            return f"CAST(CAST({sql} AS SIGNED) AS CHAR)"
        if kind == "json":
            # SQLite's json_extract(): strings unquoted, true/false as 1/0, documents compact
            return (
                f"(CASE JSON_TYPE({sql}) WHEN 'STRING' THEN JSON_UNQUOTE({sql}) COLLATE {COLLATION} "
                f"WHEN 'BOOLEAN' THEN (CASE WHEN {sql} = 'true' THEN '1' ELSE '0' END) "
                f"WHEN 'NULL' THEN NULL WHEN 'OBJECT' THEN JSON_COMPACT({sql}) "
                f"WHEN 'ARRAY' THEN JSON_COMPACT({sql}) ELSE {sql} END)"
            )
        return sql

    def to_number(self, sql: str, kind: str) -> str:
        if kind == "bool":
            return f"CAST({sql} AS DOUBLE)"
        if kind == "json":
            return (
                f"(CASE JSON_TYPE({sql}) WHEN 'INTEGER' THEN CAST({sql} AS DOUBLE) "
                f"WHEN 'DOUBLE' THEN CAST({sql} AS DOUBLE) "
                f"WHEN 'BOOLEAN' THEN (CASE WHEN {sql} = 'true' THEN 1 ELSE 0 END) END)"
            )
        if kind == "text":
            return f"(CASE WHEN {sql} REGEXP '{_NUMERIC_TEXT}' THEN CAST({sql} AS DOUBLE) END)"
        return sql

    def json_is_number(self, sql: str) -> str:
        return f"(JSON_TYPE({sql}) IN {_NUMBER_TYPES})"

    def json_is_text(self, sql: str) -> str:
        return f"(JSON_TYPE({sql}) IN {_TEXT_TYPES})"

    def array_text(self, sql: str) -> str:
        return (
            f"(CASE JSON_TYPE({sql}) WHEN 'ARRAY' THEN JSON_COMPACT({sql}) "
            f"WHEN 'STRING' THEN JSON_UNQUOTE({sql}) COLLATE {COLLATION} ELSE {sql} END)"
        )

    def clamp(self, sql: str, low: str, high: str) -> str:
        return f"LEAST({high}, GREATEST({low}, {sql}))"

    def random(self) -> str:
        return "RAND()"

    def json_extract(self, column: str, path: Sequence[str], bind: Any) -> str:
        segments = json_path_segments(path)
        if not segments:
            return f"(CASE WHEN JSON_VALID({column}) THEN {column} ELSE JSON_QUOTE({column}) END)"
        suffix = "".join(f"[{p}]" if p.isdigit() else f'."{p}"' for p in segments)
        # like SQLite (and PocketBase), text that is not JSON is read as a JSON string
        return (
            f"(CASE WHEN JSON_VALID({column}) THEN JSON_EXTRACT({column}, {bind('$' + suffix)}) "
            f"ELSE JSON_EXTRACT(JSON_OBJECT('pb', {column}), {bind('$.pb' + suffix)}) END)"
        )

    def json_each(self, column: str, alias: str, is_json: bool) -> tuple[str, str]:
        if not is_json:
            return self._table(f"JSON_ARRAY({column})", alias)
        array = f"(CASE WHEN JSON_TYPE({column}) = 'ARRAY' THEN {column} ELSE CONCAT('[', {column}, ']') END)"
        return self._table(array, alias)

    def json_each_param(self, bound: str, alias: str) -> tuple[str, str]:
        return self._table(bound, alias)

    def _table(self, array: str, alias: str) -> tuple[str, str]:
        columns = f"value LONGTEXT CHARACTER SET utf8mb4 COLLATE {COLLATION} PATH '$'"
        return f"JSON_TABLE({array}, '$[*]' COLUMNS ({columns})) AS {alias}", f"{alias}.value"

    def json_array_length(self, column: str, is_json: bool) -> str:
        if not is_json:
            return f"(CASE WHEN {column} = '' OR {column} IS NULL THEN 0 ELSE 1 END)"
        return (
            f"(CASE WHEN {column} IS NULL THEN 0 WHEN JSON_TYPE({column}) = 'ARRAY' "
            f"THEN JSON_LENGTH({column}) ELSE 1 END)"
        )

    def strftime(self, fmt: str, time_sql: str | None, modifiers: Sequence[str], bind: Any) -> str:
        unixepoch = [m for m in modifiers if m.strip().lower() == "unixepoch"]
        if len(unixepoch) != len(modifiers):
            raise FilterError("strftime modifiers other than 'unixepoch' are not supported here.")
        if time_sql is None:
            moment = "UTC_TIMESTAMP(3)"
        elif unixepoch:
            moment = f"FROM_UNIXTIME({time_sql})"
        else:
            text = f"REPLACE(LEFT({time_sql}, 23), 'T', ' ')"
            moment = (
                f"(CASE WHEN {time_sql} REGEXP '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' "
                f"THEN CAST({text} AS DATETIME(3)) END)"
            )
        parts = [
            f"DATE_FORMAT({moment}, {bind(piece)})" if piece != "%f" else
            f"CONCAT(DATE_FORMAT({moment}, '%s.'), LEFT(DATE_FORMAT({moment}, '%f'), 3))"
            for piece in _translate_strftime(fmt)
        ]  # fmt: skip
        if not parts:
            return "''"
        return f"COALESCE(CONCAT({', '.join(parts)}), '')"


def _translate_strftime(fmt: str) -> list[str]:
    """Split a SQLite strftime format into DATE_FORMAT formats, with ``%f`` kept apart."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(fmt):
        ch = fmt[index]
        if ch == "%" and index + 1 < len(fmt):
            spec = fmt[index + 1]
            index += 2
            if spec == "%":
                current.append("%%")
            elif spec == "f":
                if current:
                    pieces.append("".join(current))
                    current = []
                pieces.append("%f")
            elif spec in _MYSQL_FORMATS:
                current.append(_MYSQL_FORMATS[spec])
            else:
                raise FilterError("Unsupported strftime format specifier.")
            continue
        current.append(ch)
        index += 1
    if current:
        pieces.append("".join(current))
    return pieces
