"""Reading records: list (filter, sort, page, count) and view, with the rule merged in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.collections import Collection
from roost.core.errors import BadRequest, Forbidden, NotFound
from roost.core.events import RequestInfo
from roost.core.record_io import Record, codec_for
from roost.core.rules import compile_condition, require_rule

if TYPE_CHECKING:
    from roost.core.app import App

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000
ALIAS = '"_r"'


@dataclass
class ListQuery:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = ""
    filter: str = ""
    skip_total: bool = False

    def normalised(self) -> ListQuery:
        page = self.page if self.page > 0 else 1
        per_page = self.per_page if self.per_page > 0 else DEFAULT_PER_PAGE
        return ListQuery(page, min(per_page, MAX_PER_PAGE), self.sort, self.filter, self.skip_total)


@dataclass
class Page:
    items: list[Record]
    page: int
    per_page: int
    total_items: int
    total_pages: int


def guard_user_expression(text: str, info: RequestInfo) -> None:
    """Only superusers may reach other collections or request data from a filter or sort."""
    if info.is_superuser:
        return
    if "@collection." in text:
        raise Forbidden("Only superusers can filter by @collection.")
    if "@request." in text:
        raise Forbidden("Only superusers can filter by @request.")


async def list_records(app: App, coll: Collection, query: ListQuery, info: RequestInfo) -> Page:
    """One page of records the caller may list, plus the total unless skipped."""
    rule = require_rule(coll, "listRule", info)
    q = query.normalised()
    guard_user_expression(q.filter, info)
    guard_user_expression(q.sort, info)
    codec = codec_for(coll, app.dialect)
    conditions, params = [], {}
    if rule:
        sql, p = compile_condition(app, coll, rule, info, ALIAS, allow_hidden=True)
        conditions.append(f"({sql})")
        params.update(p)
    if q.filter.strip():
        sql, p = compile_condition(app, coll, q.filter, info, ALIAS, allow_hidden=info.is_superuser, is_filter=True)
        conditions.append(f"({_rename_params(sql, p, 'f', params)})")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    order = compile_order(app, coll, q.sort, info, params)
    offset = (q.page - 1) * q.per_page
    base = f"FROM {codec.table} AS {ALIAS}{where}"
    page_sql = f"SELECT {codec.select(ALIAS)} {base}{order} LIMIT {int(q.per_page)} OFFSET {int(offset)}"
    if q.skip_total:
        rows = await app.db.fetch_all(page_sql, params)
        total = -1
    else:
        rows, total = await asyncio.gather(
            app.db.fetch_all(page_sql, params), app.db.fetch_value(f"SELECT COUNT(*) {base}", params)
        )
    items = [codec.decode(r) for r in rows]
    total_items = int(total)
    total_pages = -1 if q.skip_total else (total_items + q.per_page - 1) // q.per_page
    return Page(items, q.page, q.per_page, total_items, total_pages)


def _rename_params(sql: str, params: dict[str, Any], prefix: str, into: dict[str, Any]) -> str:
    """Merge ``params`` into ``into`` under fresh names so two compiled fragments never collide."""
    import re

    mapping = {name: f"{prefix}_{name}" for name in params}
    for old, new in mapping.items():
        into[new] = params[old]
    if not mapping:
        return sql
    return re.sub(r":(\w+)", lambda m: ":" + mapping.get(m.group(1), m.group(1)), sql)


def compile_order(app: App, coll: Collection, sort: str, info: RequestInfo, params: dict[str, Any]) -> str:
    if not sort.strip():
        return ""
    from roost.core.resolver import RecordFieldResolver
    from roost.tools.filter import FilterError, compile_sort, parse_sort

    try:
        items = parse_sort(sort)
        resolver = RecordFieldResolver(
            app.collections.get, coll, alias=ALIAS, info=info, allow_hidden=info.is_superuser, dialect=app.dialect
        )
        sql, p = compile_sort(items, resolver, app.dialect)
    except FilterError as exc:
        raise BadRequest("Something went wrong while processing your request.") from exc
    return " ORDER BY " + _rename_params(sql, p, "s", params) if sql else ""


async def view_record(app: App, coll: Collection, record_id: str, info: RequestInfo) -> Record:
    """One record the caller may view; 404 when it is missing or the view rule says no."""
    rule = require_rule(coll, "viewRule", info)
    codec = codec_for(coll, app.dialect)
    params: dict[str, Any] = {"_rid": record_id}
    where = f"{ALIAS}.\"id\" = :_rid"
    if rule:
        sql, p = compile_condition(app, coll, rule, info, ALIAS, allow_hidden=True)
        where += f" AND ({_rename_params(sql, p, 'r', params)})"
    row = await app.db.fetch_one(f"SELECT {codec.select(ALIAS)} FROM {codec.table} AS {ALIAS} WHERE {where}", params)
    if row is None:
        raise NotFound()
    return codec.decode(row)
