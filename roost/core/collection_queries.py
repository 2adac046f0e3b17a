"""Listing collections with the same filter/sort language as records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from roost.core.collections import Collection
from roost.core.events import RequestInfo
from roost.core.fields import field_from_dict
from roost.core.queries import ListQuery, Page
from roost.core.rules import compile_condition, compile_order, new_binder

if TYPE_CHECKING:
    from roost.core.app import App

#: the searchable columns of ``_collections`` described as a pseudo collection
_META = Collection(
    id="_collections",
    name="_collections",
    fields=[
        field_from_dict({"type": "text", "name": n}) for n in ("id", "name", "type", "created", "updated")
    ] + [field_from_dict({"type": "bool", "name": "system"})],
)


async def list_collections(app: App, query: ListQuery, info: RequestInfo) -> Page:
    q = query.normalised()
    binder = new_binder(app)
    where = ""
    if q.filter.strip():
        sql, _ = compile_condition(app, _META, q.filter, info, '"_r"', allow_hidden=True, is_filter=True, binder=binder)
        where = f" WHERE ({sql})"
    order = compile_order(app, _META, q.sort, info, '"_r"', binder)
    if not order and app.dialect != "sqlite":
        order = ' ORDER BY "_r"."created", "_r"."id"'  # SQLite's rowid order elsewhere
    params: dict[str, Any] = binder.params
    base = f'FROM "_collections" AS "_r"{where}'
    rows = await app.db.fetch_all(
        f'SELECT "_r"."data" {base}{order} LIMIT {int(q.per_page)} OFFSET {q.offset}', params
    )
    items = [Collection.from_dict(orjson.loads(r["data"])) for r in rows]
    total = -1 if q.skip_total else int(await app.db.fetch_value(f"SELECT COUNT(*) {base}", params) or 0)
    pages = -1 if q.skip_total else (total + q.per_page - 1) // q.per_page
    return Page([c.to_dict() for c in items], q.page, q.per_page, total, pages)
