"""Aggregations over the records a caller may list (a Roost extension of the records API).

``GET /api/collections/{c}/aggregate?groupBy=status,created:month&fields=count,sum(total)``
groups the records that pass the collection's listRule and the caller's ``filter`` (compiled
exactly as a list compiles them, see :mod:`roost.core.records.queries`), then computes the
aggregates per group. Group keys and aggregated fields are direct fields of the collection,
checked against the schema and turned into quoted column names, so no user text ever reaches
the SQL. A hidden field answers the same error as an unknown one, so it is never an oracle.

Date buckets cut the stored UTC text (``2024-05-06 07:08:09.123Z``) with the same expressions on
every database, so SQLite, PostgreSQL and MySQL give the same groups; a bucket is reported as
the UTC datetime it starts at. Weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.errors import BadRequest, FieldError
from roost.core.events import RequestInfo
from roost.core.records.codec import codec_for
from roost.core.records.queries import ALIAS, MAX_OFFSET, ListQuery, list_where
from roost.core.rules.engine import new_binder
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field
from roost.core.schema.fields.base import go_number

if TYPE_CHECKING:
    from roost.core.base import App

DEFAULT_PER_PAGE = 30
#: the most groups one page returns (the statement timeout bounds the work behind it)
MAX_GROUPS = 1000
MAX_GROUP_FIELDS = 5
MAX_AGGREGATES = 10
INVALID = "Invalid aggregate parameters."

GROUPABLE = frozenset({"text", "email", "url", "select", "relation", "bool", "number", "date", "autodate"})
DATE_TYPES = frozenset({"date", "autodate"})
#: bucket -> (stored text prefix length, suffix that completes the bucket's start datetime)
BUCKETS = {
    "year": (4, "-01-01 00:00:00.000Z"),
    "month": (7, "-01 00:00:00.000Z"),
    "week": (10, " 00:00:00.000Z"),
    "day": (10, " 00:00:00.000Z"),
    "hour": (13, ":00:00.000Z"),
}
FUNCTIONS = ("count", "sum", "avg", "min", "max")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_AGGREGATE = re.compile(r"(sum|avg|min|max)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\Z")
#: sums and averages of doubles differ in their last bits between databases (summation order)
DECIMALS = 9
_CODES = {"groupBy": "validation_invalid_group_by", "fields": "validation_invalid_aggregate", "sort": "validation_invalid_sort"}


@dataclass
class AggregateQuery:
    """The parameters of one aggregate request, as the client sent them."""

    group_by: str = ""
    fields: str = "count"
    filter: str = ""
    sort: str = ""
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    skip_total: bool = False

    def normalised(self) -> AggregateQuery:
        page = self.page if self.page > 0 else 1
        per_page = min(self.per_page if self.per_page > 0 else DEFAULT_PER_PAGE, MAX_GROUPS)
        return AggregateQuery(self.group_by, self.fields or "count", self.filter, self.sort, page, per_page, self.skip_total)


@dataclass
class Groups:
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total_items: int
    total_pages: int


@dataclass(frozen=True)
class _Column:
    """One output column: its name in the response, its SQL and how to read its value back."""

    name: str
    sql: str
    kind: str  # "text" | "number" | "bool" | "bucket" | "count"
    suffix: str = ""
    text_order: bool = False


def _invalid(param: str, message: str) -> BadRequest:
    return BadRequest(INVALID, {param: FieldError(_CODES[param], message)})


def _field(coll: Collection, name: str, info: RequestInfo, param: str) -> Field:
    """A visible field by name; unknown and hidden fields give one error (never an oracle)."""
    fld = coll.get_field(name) if _NAME.match(name) else None
    # a field behind a readRule may be readable on some records only: a sum or a group over
    # all of them would reveal the others, so only superusers aggregate it
    private = fld is not None and not info.is_superuser and (fld.hidden or bool(fld.readRule) or (coll.is_auth and fld.type == "email"))
    if fld is None or private:
        raise _invalid(param, f'Unknown or unsupported field "{name[:64]}".')
    return fld


def _column(fld: Field) -> str:
    return f'{ALIAS}."{fld.name}"'


def _week_start(day: str, dialect: str) -> str:
    """The Monday on or before the ``YYYY-MM-DD`` text ``day``, as ``YYYY-MM-DD`` text."""
    if dialect == "postgresql":
        moment = f"CAST({day} AS DATE)"
        return f"to_char({moment} - CAST(EXTRACT(ISODOW FROM {moment}) AS INTEGER) + 1, 'YYYY-MM-DD')"
    if dialect == "mysql":
        return f"CAST(DATE_SUB(DATE({day}), INTERVAL WEEKDAY(DATE({day})) DAY) AS CHAR)"
    return f"date({day}, '-' || ((CAST(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')"


def _group_column(coll: Collection, spec: str, info: RequestInfo, dialect: str) -> _Column:
    name, _, bucket = spec.partition(":")
    fld = _field(coll, name, info, "groupBy")
    if fld.type not in GROUPABLE or fld.is_multiple():
        raise _invalid("groupBy", f'Unknown or unsupported field "{name}".')
    column = _column(fld)
    if not bucket:
        kind = fld.type if fld.type in ("number", "bool") else "text"
        return _Column(spec, column, kind, text_order=kind == "text")
    if fld.type not in DATE_TYPES or bucket not in BUCKETS:
        raise _invalid("groupBy", f'Invalid date bucket "{spec[:64]}" (use year, month, week, day or hour).')
    length, suffix = BUCKETS[bucket]
    sql = f"SUBSTR(NULLIF({column}, ''), 1, {length})"
    if bucket == "week":
        sql = _week_start(sql, dialect)
    return _Column(spec, sql, "bucket", suffix, text_order=True)


def _aggregate_column(coll: Collection, spec: str, info: RequestInfo) -> _Column:
    if spec == "count":
        return _Column("count", "COUNT(*)", "count")
    match = _AGGREGATE.match(spec)
    if match is None:
        raise _invalid("fields", f'Invalid aggregate "{spec[:64]}" (use count, sum(f), avg(f), min(f) or max(f)).')
    function, name = match.groups()
    fld = _field(coll, name, info, "fields")
    numeric = fld.type == "number"
    if not numeric and not (function in ("min", "max") and fld.type in DATE_TYPES):
        raise _invalid("fields", f'"{function}" is not supported on field "{name}".')
    kind = "number" if numeric else "text"
    return _Column(f"{function}({name})", f"{function.upper()}({_column(fld)})", kind, text_order=not numeric)


def _split(text: str, limit: int, param: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) > limit:
        raise _invalid(param, f"At most {limit} entries are allowed.")
    if any(not p for p in parts):
        raise _invalid(param, "Empty entry.")
    if len(set(parts)) != len(parts):
        raise _invalid(param, "Duplicate entry.")
    return parts


def _order(columns: list[_Column], groups: list[_Column], sort: str, dialect: str) -> str:
    """ORDER BY the requested outputs, then every group key (so pages are stable)."""
    by_name = {c.name: c for c in columns}
    terms: list[tuple[_Column, bool]] = []
    for raw in _split(sort, len(columns), "sort"):
        descending = raw.startswith("-")
        name = raw[1:].strip() if raw[:1] in "+-" else raw
        column = by_name.get(name)
        if column is None:
            raise _invalid("sort", f'Unknown sort key "{name[:64]}" (sort by a groupBy entry or an aggregate).')
        terms.append((column, descending))
    terms += [(g, False) for g in groups if g.name not in {c.name for c, _ in terms}]
    return ", ".join(_order_term(c, d, dialect) for c, d in terms)


def _order_term(column: _Column, descending: bool, dialect: str) -> str:
    sql = f'{column.sql} COLLATE "C"' if column.text_order and dialect == "postgresql" else column.sql
    if dialect == "postgresql":  # NULLs first ascending everywhere, as SQLite and MySQL order them
        return f"{sql} DESC NULLS LAST" if descending else f"{sql} ASC NULLS FIRST"
    return f"{sql} {'DESC' if descending else 'ASC'}"


def _value(column: _Column, raw: Any) -> Any:
    if raw is None:
        return None
    if column.kind == "count":
        return int(raw)
    if column.kind == "bool":
        return bool(raw)
    if column.kind == "number":
        return go_number(round(float(raw), DECIMALS))
    if column.kind == "bucket":
        return str(raw) + column.suffix
    return str(raw)


async def aggregate_records(app: App, coll: Collection, query: AggregateQuery, info: RequestInfo) -> Groups:
    """One page of groups of the records the caller may list, with their aggregates.

    Raises:
        BadRequest: a parameter names an unknown, hidden or unsupported field, or does not parse.
        Forbidden: the listRule is superusers-only, or the filter reaches beyond the caller.
    """
    q = query.normalised()
    dialect = app.dialect
    groups = [_group_column(coll, s, info, dialect) for s in _split(q.group_by, MAX_GROUP_FIELDS, "groupBy")]
    aggregates = [_aggregate_column(coll, s, info) for s in _split(q.fields, MAX_AGGREGATES, "fields")]
    columns = [*groups, *aggregates]
    if len({c.name for c in columns}) != len(columns):
        raise _invalid("fields", "A groupBy entry and an aggregate share a name.")
    order = _order(columns, groups, q.sort, dialect)
    binder = new_binder(app)
    conditions = list_where(app, coll, ListQuery(filter=q.filter), info, binder)
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    group_by = (" GROUP BY " + ", ".join(g.sql for g in groups)) if groups else ""
    selected = ", ".join(f'{c.sql} AS "_c{n}"' for n, c in enumerate(columns))
    base = f"FROM {codec_for(coll, dialect).table} AS {ALIAS}{where}{group_by}"
    offset = min((q.page - 1) * q.per_page, MAX_OFFSET)
    page_sql = f"SELECT {selected} {base}{' ORDER BY ' + order if order else ''} LIMIT {q.per_page} OFFSET {offset}"
    count_sql = f'SELECT COUNT(*) FROM (SELECT 1 AS "_one" {base}) AS "_groups"'
    if q.skip_total or not groups:  # with no groupBy there is exactly one group
        rows, total = await app.db.fetch_all(page_sql, binder.params), -1
    else:
        rows, total = await asyncio.gather(
            app.db.fetch_all(page_sql, binder.params), app.db.fetch_value(count_sql, binder.params)
        )
    items = [{c.name: _value(c, row[f"_c{n}"]) for n, c in enumerate(columns)} for row in rows]
    total_items = int(total) if groups else (-1 if q.skip_total else 1)
    total_pages = -1 if q.skip_total else (total_items + q.per_page - 1) // q.per_page
    return Groups(items, q.page, q.per_page, total_items, total_pages)
