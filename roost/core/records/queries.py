"""Reading records: list (filter, sort, page, count) and view, with the rule merged in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.core.collections.sync import natural_order, natural_order_key
from roost.core.errors import Forbidden, NotFound
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.records.keyset import (
    cursor_scope,
    cursor_secret,
    decode_cursor,
    encode_cursor,
    mark_not_null,
    seek_condition,
)
from roost.core.records.search import SearchClause, compile_search
from roost.core.rules.engine import (
    compile_condition,
    compile_order,
    compile_order_keys,
    new_binder,
    require_rule,
)
from roost.core.schema.collection import Collection
from roost.tools.filter import Binder, SortKey

if TYPE_CHECKING:
    from roost.core.base import App

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000
#: the largest OFFSET every database takes (a signed 64-bit integer); a page past it is empty anyway
MAX_OFFSET = (1 << 63) - 1
ALIAS = '"_r"'


@dataclass
class ListQuery:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = ""
    filter: str = ""
    skip_total: bool = False
    #: keyset pagination (a Roost extension): None = off, "" = the first page, else a nextCursor
    cursor: str | None = None
    #: full-text search over the collection's search index (a Roost extension); ranks by default
    search: str = ""

    def normalised(self) -> ListQuery:
        page = self.page if self.page > 0 else 1
        per_page = self.per_page if self.per_page > 0 else DEFAULT_PER_PAGE
        return ListQuery(page, min(per_page, MAX_PER_PAGE), self.sort, self.filter, self.skip_total, self.cursor, self.search)

    @property
    def offset(self) -> int:
        """The rows before this page, capped so ``?page=9223372036854775807`` is an empty page, not an overflow."""
        return min((self.page - 1) * self.per_page, MAX_OFFSET)


@dataclass
class Page:
    items: list[Record]
    page: int
    per_page: int
    total_items: int
    total_pages: int
    #: with ``ListQuery.cursor``: the cursor of the page after this one, or None on the last page
    next_cursor: str | None = None


def guard_user_expression(text: str, info: RequestInfo) -> None:
    """Only superusers may reach other collections or request data from a filter or sort."""
    if info.is_superuser:
        return
    if "@collection." in text:
        raise Forbidden("Only superusers can filter by @collection.")
    if "@request." in text:
        raise Forbidden("Only superusers can filter by @request.")


def list_where(app: App, coll: Collection, q: ListQuery, info: RequestInfo, binder: Binder) -> list[str]:
    """The listRule and the user filter as SQL conditions over ``ALIAS``."""
    rule = require_rule(coll, "listRule", info)
    guard_user_expression(q.filter, info)
    guard_user_expression(q.sort, info)
    conditions = []
    if rule:
        sql, _ = compile_condition(app, coll, rule, info, ALIAS, allow_hidden=True, binder=binder)
        conditions.append(f"({sql})")
    if q.filter.strip():
        sql, _ = compile_condition(app, coll, q.filter, info, ALIAS, allow_hidden=info.is_superuser, is_filter=True, binder=binder)
        conditions.append(f"({sql})")
    return conditions


def _search(coll: Collection, q: ListQuery, binder: Binder, conditions: list[str]) -> SearchClause | None:
    """The search clause of ``q`` (its condition appended to ``conditions``), or None."""
    if not q.search.strip():
        return None
    clause = compile_search(coll, q.search, ALIAS, binder)
    if clause.condition:
        conditions.append(f"({clause.condition})")
    return clause


async def list_records(app: App, coll: Collection, query: ListQuery, info: RequestInfo) -> Page:
    """One page of records the caller may list, plus the total unless skipped."""
    q = query.normalised()
    if q.cursor is not None:
        return await _list_after_cursor(app, coll, q, info)
    codec = codec_for(coll, app.dialect)
    binder = new_binder(app)
    conditions = list_where(app, coll, q, info, binder)
    search = _search(coll, q, binder, conditions)
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    order = _page_order(app, coll, q.sort, info, binder)
    if not order and search is not None:  # best matches first, then insertion order
        order = f" ORDER BY {search.rank}, {natural_order_key(ALIAS, app.dialect)}"
    if not order and not coll.is_view:
        order = natural_order(ALIAS, app.dialect)
    params = binder.params
    base = f"FROM {codec.table} AS {ALIAS}{search.join if search else ''}{where}"
    page_sql = f"SELECT {codec.select(ALIAS)} {base}{order} LIMIT {int(q.per_page)} OFFSET {q.offset}"
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


def _page_order(app: App, coll: Collection, sort: str, info: RequestInfo, binder: Binder) -> str:
    """ORDER BY of an offset page: plain ASC/DESC on NOT NULL columns so an index can serve it."""
    if not sort.strip() or "@random" in sort:
        return compile_order(app, coll, sort, info, ALIAS, binder)
    keys = mark_not_null(compile_order_keys(app, coll, sort, info, ALIAS, binder), coll, ALIAS, app.dialect)
    return " ORDER BY " + ", ".join(_order_term(k, binder) for k in keys) if keys else ""


def _cursor_keys(app: App, coll: Collection, q: ListQuery, info: RequestInfo, binder: Binder) -> list[SortKey]:
    """The sort keys plus the id; with no sort, insertion order (the id alone on views)."""
    keys = compile_order_keys(app, coll, q.sort, info, ALIAS, binder) if q.sort.strip() else []
    if not keys and not coll.is_view:
        keys = [SortKey(natural_order_key(ALIAS, app.dialect), False, nullable=False)]
    return [*mark_not_null(keys, coll, ALIAS, app.dialect), SortKey(f'{ALIAS}."id"', False, nullable=False)]


def _order_term(key: SortKey, binder: Binder) -> str:
    # NOT NULL keys need no NULLS FIRST/LAST, and without it PostgreSQL can walk a plain index
    if key.nullable:
        return binder.dialect.order_term(key.sql, key.descending)
    return f"{key.sql} {'DESC' if key.descending else 'ASC'}"


async def _list_after_cursor(app: App, coll: Collection, q: ListQuery, info: RequestInfo) -> Page:
    """Keyset pagination: the page after the cursor's row, in sort order; no total (-1)."""
    codec = codec_for(coll, app.dialect)
    binder = new_binder(app)
    conditions = list_where(app, coll, q, info, binder)
    search = _search(coll, q, binder, conditions)
    keys = _cursor_keys(app, coll, q, info, binder)
    secret, scope = cursor_secret(app), cursor_scope(coll, q.sort)
    if q.cursor:
        conditions.append(seek_condition(keys, decode_cursor(secret, scope, q.cursor, len(keys)), binder))
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    selected = ", ".join(f'{k.sql} AS "_k{n}"' for n, k in enumerate(keys))
    order = ", ".join(_order_term(k, binder) for k in keys)
    rows = await app.db.fetch_all(
        f"SELECT {codec.select(ALIAS)}, {selected} FROM {codec.table} AS {ALIAS}{search.join if search else ''}{where} "
        f"ORDER BY {order} "
        f"LIMIT {int(q.per_page) + 1}",
        binder.params,
    )
    last = rows[q.per_page - 1] if len(rows) > q.per_page else None
    next_cursor = None if last is None else encode_cursor(secret, scope, [last[f"_k{n}"] for n in range(len(keys))])
    items = [codec.decode(r) for r in rows[: q.per_page]]
    return Page(items, -1, q.per_page, -1, -1, next_cursor)


async def view_record(app: App, coll: Collection, record_id: str, info: RequestInfo) -> Record:
    """One record the caller may view; 404 when it is missing or the view rule says no."""
    rule = require_rule(coll, "viewRule", info)
    if "\x00" in record_id:  # never a stored id (PostgreSQL refuses NUL in text): PocketBase's 404
        raise NotFound()
    codec = codec_for(coll, app.dialect)
    binder = new_binder(app)
    params = binder.params
    params["_rid"] = record_id
    where = f"{ALIAS}.\"id\" = :_rid"
    if rule:
        sql, _ = compile_condition(app, coll, rule, info, ALIAS, allow_hidden=True, binder=binder)
        where += f" AND ({sql})"
    row = await app.db.fetch_one(f"SELECT {codec.select(ALIAS)} FROM {codec.table} AS {ALIAS} WHERE {where}", params)
    if row is None:
        raise NotFound()
    return codec.decode(row)
