"""SQL dialect hooks used by the compiler and by field resolvers.

The compiler never spells dialect-specific SQL itself: quoting, parameter casts, type
conversions, LIKE, JSON access, strftime and geoDistance math all go through a :class:`Dialect`.
Each dialect is one subclass registered in :data:`roost.tools.filter.dialect_lookup.DIALECTS` (MySQL/MariaDB lives in
:mod:`roost.tools.filter.dialect_mysql`).

SQLite is dynamically typed and compares mixed types by its affinity rules, so its hooks return
expressions unchanged. PostgreSQL is strictly typed: :class:`PostgresDialect` casts every bound
parameter to the type of its Python value and converts operands to a common type
(see :func:`roost.tools.filter.compiler.compile_filter`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from roost.tools.filter.errors import FilterError

Bind = Callable[[Any], str]

_JSON_KEY_RE = re.compile(r"\W")


def json_path_segments(path: Sequence[str]) -> list[str]:
    """Normalise JSON path segments the way PocketBase does (non-word characters dropped)."""
    return [_JSON_KEY_RE.sub("", part) for part in path]


class Dialect:
    """SQLite behaviour; the base of every dialect."""

    name: ClassVar[str] = "sqlite"
    #: True when operands of different types must be converted explicitly before comparing
    typed: ClassVar[bool] = False
    like: ClassVar[str] = "LIKE"
    true_sql: ClassVar[str] = "(1=1)"
    false_sql: ClassVar[str] = "(1=0)"

    def quote(self, ident: str) -> str:
        """Quote a table, column or alias name."""
        return '"' + ident.replace('"', '""') + '"'

    def param(self, name: str, value: Any) -> str:
        """SQL reading bound parameter ``name`` (holding ``value``)."""
        return f":{name}"

    def adapt_value(self, value: Any) -> Any:
        """The Python value actually handed to the driver."""
        return value

    def is_op(self, negate: bool) -> str:
        """Null-safe (in)equality operator."""
        return "IS NOT" if negate else "IS"

    def is_expr(self, left: str, right: str, negate: bool) -> str:
        """Null-safe (in)equality of two expressions."""
        return f"{left} {self.is_op(negate)} {right}"

    def like_expr(self, left: str, pattern: str, negate: bool) -> str:
        """``left`` (NOT) LIKE ``pattern``, ignoring ASCII case as SQLite does; ``\\`` escapes."""
        return f"{left} {'NOT ' if negate else ''}{self.like} {pattern} ESCAPE '\\'"

    def source_table(self, source: str, alias: str) -> tuple[str, str]:
        """A FROM item listing the values of a multi-valued operand, and the SQL of one value.

        ``source`` is a correlated ``SELECT <value> AS v FROM (SELECT 1 AS one) AS <pad> ...``.
        """
        return f"({source}) AS {alias}", f"{alias}.v"

    def to_text(self, sql: str, kind: str) -> str:
        """Convert an expression of ``kind`` to text."""
        return sql

    def to_number(self, sql: str, kind: str) -> str:
        """Convert an expression of ``kind`` to a number (NULL when not numeric)."""
        return sql

    def array_text(self, sql: str) -> str:
        """The stored text of a multi-valued (JSON array) column, e.g. ``["a","b"]``."""
        return sql

    def order_keys(self, sql: str, kind: str) -> list[str]:
        """ORDER BY keys sorting values of ``kind`` the way SQLite does."""
        return [sql]

    def json_is_number(self, sql: str) -> str:
        """True when a JSON value is compared as a number (numbers and booleans)."""
        return f"(typeof({sql}) IN ('integer', 'real'))"

    def json_is_text(self, sql: str) -> str:
        """True when a JSON value is compared as text (strings, objects and arrays)."""
        return f"(typeof({sql}) = 'text')"

    def lower(self, sql: str) -> str:
        """Lower-case a text expression."""
        return f"LOWER({sql})"

    def clamp(self, sql: str, low: str, high: str) -> str:
        """Clamp a numeric expression between two bounds."""
        return f"MIN({high}, MAX({low}, {sql}))"

    def random(self) -> str:
        """A random ordering key."""
        return "RANDOM()"

    def order_term(self, sql: str, descending: bool) -> str:
        """One ORDER BY term; NULLs sort first ascending, as in SQLite."""
        return f"{sql} {'DESC' if descending else 'ASC'}"

    def json_extract(self, column: str, path: Sequence[str], bind: Bind) -> str:
        """The JSON value at ``path`` in ``column`` (a SQL value in SQLite, JSONB in PostgreSQL)."""
        suffix = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in json_path_segments(path))
        # wrapping in an object makes json_extract work on non-JSON text too (PocketBase does it)
        return (
            f"(CASE WHEN json_valid({column}) THEN json_extract({column}, {bind('$' + suffix)}) "
            f"ELSE json_extract(json_object('pb', {column}), {bind('$.pb' + suffix)}) END)"
        )

    def json_each(self, column: str, alias: str, is_json: bool) -> tuple[str, str]:
        """A FROM item iterating the array in ``column``, and the SQL of one element (text)."""
        return f"json_each({_sqlite_array(column)}) AS {alias}", f"{alias}.value"

    def json_each_param(self, bound: str, alias: str) -> tuple[str, str]:
        """Like :meth:`json_each` over a bound JSON array text."""
        return f"json_each({bound}) AS {alias}", f"{alias}.value"

    def json_array_length(self, column: str, is_json: bool) -> str:
        """Item count of a JSON array column; 0 for ''/NULL, 1 for a plain value."""
        return (
            f"json_array_length(CASE WHEN {_sqlite_is_array(column)} THEN {column} ELSE "
            f"(CASE WHEN {column} = '' OR {column} IS NULL THEN json_array() "
            f"ELSE json_array({column}) END) END)"
        )

    def strftime(self, fmt: str, time_sql: str | None, modifiers: Sequence[str], bind: Bind) -> str:
        """SQLite ``strftime`` semantics with NULL normalised to ''."""
        args = [bind(fmt)] + ([time_sql] if time_sql is not None else [])
        args += [bind(m) for m in modifiers]
        return f"COALESCE(strftime({', '.join(args)}), '')"

    def geo_distance(self, lon_a: str, lat_a: str, lon_b: str, lat_b: str) -> str:
        """Haversine distance in km between two points given in degrees."""
        inner = (
            f"cos(radians({lat_a})) * cos(radians({lat_b})) * "
            f"cos(radians({lon_b}) - radians({lon_a})) + sin(radians({lat_a})) * sin(radians({lat_b}))"
        )
        return f"(6371 * acos({self.clamp(inner, '-1', '1')}))"

    def setup_statements(self) -> tuple[str, ...]:
        """DDL the application runs once at start-up so compiled filters work (none needed)."""
        return ()


def _sqlite_is_array(column: str) -> str:
    # CASE keeps json_type() away from invalid JSON, which it rejects with an error
    return f"(CASE WHEN json_valid({column}) THEN json_type({column}) = 'array' ELSE 0 END)"


def _sqlite_array(column: str) -> str:
    """``column`` as a JSON array: itself when it is one, else wrapped (PocketBase's json_each)."""
    return f"CASE WHEN {_sqlite_is_array(column)} THEN {column} ELSE json_array({column}) END"


_NUMERIC_TEXT = r"^\s*[-+]?([0-9]{1,200}(\.[0-9]{0,200})?|\.[0-9]{1,200})([eE][-+]?[0-9]{1,2})?\s*$"
_PG_FORMATS = {
    "d": "DD", "f": "SS.MS", "H": "HH24", "j": "DDD", "m": "MM", "M": "MI", "S": "SS", "Y": "YYYY",
}  # fmt: skip


class TypedDialect(Dialect):
    """Shared by strictly typed databases, which need SQLite's mixed-type JSON order spelled out."""

    def order_keys(self, sql: str, kind: str) -> list[str]:
        if kind != "json":
            return [sql]
        # SQLite sorts NULL, then numbers, then text; typed JSON columns have orders of their own
        rank = f"(CASE WHEN {self.json_is_number(sql)} THEN 1 WHEN {self.json_is_text(sql)} THEN 2 END)"
        return [rank, self.to_number(sql, kind), self.to_text(sql, kind)]


class PostgresDialect(TypedDialect):
    """PostgreSQL: typed parameters and explicit conversions."""

    name: ClassVar[str] = "postgresql"
    typed: ClassVar[bool] = True
    # SQLite's LIKE ignores ASCII case; ILIKE keeps filters answering the same
    like: ClassVar[str] = "ILIKE"

    def param(self, name: str, value: Any) -> str:
        if isinstance(value, bool):
            return f"CAST(:{name} AS BOOLEAN)"
        if isinstance(value, int | float):
            return f"CAST(:{name} AS DOUBLE PRECISION)"
        return f"CAST(:{name} AS TEXT)"

    def adapt_value(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, str | bool):
            return str(value)
        return value

    def is_op(self, negate: bool) -> str:
        return "IS DISTINCT FROM" if negate else "IS NOT DISTINCT FROM"

    def to_text(self, sql: str, kind: str) -> str:
        if kind == "number":
            return f"CAST({sql} AS TEXT)"
        if kind == "bool":
            return f"CAST(CAST({sql} AS INTEGER) AS TEXT)"
        if kind == "json":
            # SQLite's json_extract() turns true/false into 1/0
            return (
                f"(CASE WHEN jsonb_typeof({sql}) = 'boolean' THEN "
                f"CAST(CAST(CAST({sql} #>> '{{}}' AS BOOLEAN) AS INTEGER) AS TEXT) "
                f"ELSE ({sql} #>> '{{}}') END)"
            )
        return sql

    def to_number(self, sql: str, kind: str) -> str:
        if kind == "bool":
            return f"CAST(CAST({sql} AS INTEGER) AS DOUBLE PRECISION)"
        if kind == "json":
            return (
                f"(CASE jsonb_typeof({sql}) WHEN 'number' THEN CAST({sql} #>> '{{}}' AS DOUBLE PRECISION)"
                f" WHEN 'boolean' THEN CAST(CAST({sql} #>> '{{}}' AS BOOLEAN) AS INTEGER) END)"
            )
        if kind == "text":
            return f"(CASE WHEN {sql} ~ '{_NUMERIC_TEXT}' THEN CAST({sql} AS DOUBLE PRECISION) END)"
        return sql

    def order_term(self, sql: str, descending: bool) -> str:
        return f"{sql} DESC NULLS LAST" if descending else f"{sql} ASC NULLS FIRST"

    def json_is_number(self, sql: str) -> str:
        return f"(jsonb_typeof({sql}) IN ('number', 'boolean'))"

    def json_is_text(self, sql: str) -> str:
        return f"(jsonb_typeof({sql}) IN ('string', 'object', 'array'))"

    def array_text(self, sql: str) -> str:
        # jsonb prints ["a", "b"]; PocketBase stores and compares the compact ["a","b"]
        return (
            f"(CASE WHEN jsonb_typeof({sql}) = 'array' THEN (SELECT '[' || "
            f"COALESCE(string_agg(CAST(e.value AS TEXT), ',' ORDER BY e.n), '') || ']' "
            f"FROM jsonb_array_elements({sql}) WITH ORDINALITY AS e(value, n)) "
            f"ELSE ({sql} #>> '{{}}') END)"
        )

    def clamp(self, sql: str, low: str, high: str) -> str:
        return f"LEAST({high}, GREATEST({low}, {sql}))"

    def json_extract(self, column: str, path: Sequence[str], bind: Bind) -> str:
        segments = json_path_segments(path)
        if not segments:
            return column
        # PostgreSQL passes at most 100 arguments to a function: nest the call for deeper paths
        for start in range(0, len(segments), 99):
            args = ", ".join(bind(p) for p in segments[start : start + 99])
            column = f"jsonb_extract_path({column}, {args})"
        return column

    def json_each(self, column: str, alias: str, is_json: bool) -> tuple[str, str]:
        if not is_json:
            # a function, not a subquery: FROM items may then refer to earlier joins
            return f"unnest(ARRAY[CAST({column} AS TEXT)]) AS {alias}(value)", f"{alias}.value"
        source = (
            f"CASE WHEN jsonb_typeof({column}) = 'array' THEN {column} "
            f"ELSE jsonb_build_array({column}) END"
        )
        return f"jsonb_array_elements({source}) AS {alias}(value)", f"({alias}.value #>> '{{}}')"

    def json_each_param(self, bound: str, alias: str) -> tuple[str, str]:
        return (
            f"jsonb_array_elements(CAST({bound} AS JSONB)) AS {alias}(value)",
            f"({alias}.value #>> '{{}}')",
        )

    def json_array_length(self, column: str, is_json: bool) -> str:
        if not is_json:
            return f"(CASE WHEN {column} = '' OR {column} IS NULL THEN 0 ELSE 1 END)"
        return (
            f"(CASE WHEN {column} IS NULL THEN 0 WHEN jsonb_typeof({column}) = 'array' "
            f"THEN jsonb_array_length({column}) ELSE 1 END)"
        )

    def strftime(self, fmt: str, time_sql: str | None, modifiers: Sequence[str], bind: Bind) -> str:
        unixepoch = [m for m in modifiers if m.strip().lower() == "unixepoch"]
        if len(unixepoch) != len(modifiers):
            raise FilterError("strftime modifiers other than 'unixepoch' are not supported here.")
        pg_format = bind(_translate_strftime(fmt))
        if time_sql is None:
            moment = "(now() AT TIME ZONE 'UTC')"
        elif unixepoch:
            moment = f"(to_timestamp({time_sql}) AT TIME ZONE 'UTC')"
        else:
            guarded = (
                f"(CASE WHEN {time_sql} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' THEN {time_sql} END)"
            )
            moment = f"(CAST({guarded} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
        return f"COALESCE(to_char({moment}, {pg_format}), '')"


def _translate_strftime(fmt: str) -> str:
    """Translate a SQLite strftime format into a PostgreSQL to_char one."""
    out: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(fmt):
        ch = fmt[index]
        if ch == "%" and index + 1 < len(fmt) and fmt[index + 1] != "%":
            spec = _PG_FORMATS.get(fmt[index + 1])
            if spec is None:
                raise FilterError("Unsupported strftime format specifier.")
            if literal:
                out.append('"' + "".join(literal).replace("\\", "\\\\").replace('"', '\\"') + '"')
                literal = []
            out.append(spec)
            index += 2
            continue
        literal.append(ch)
        index += 2 if ch == "%" else 1
    if literal:
        out.append('"' + "".join(literal).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "".join(out)
