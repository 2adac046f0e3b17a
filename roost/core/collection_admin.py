"""Collection operations above the record pipeline: listing collections with the records'
filter and sort language, truncating a collection (with the same cascades as single deletes)
and importing a set of collections.

These are the request level of collection management: transports check that the caller is a
superuser, then call them, and each fires its ``on_collection*_request`` hook around the
model-level write of the :class:`CollectionStore` (which fires ``on_collection_create`` ...). A
handler that returns without ``e.next()`` skips the write; the caller gets what the event holds.
"""

from __future__ import annotations

from typing import Any

import orjson

from roost.core.base import App
from roost.core.db.facade import quote_ident
from roost.core.errors import (
    BadRequest,
    FieldError,
    RoostError,
    ServiceUnavailable,
    ValidationFailed,
)
from roost.core.events import (
    CollectionRequestEvent,
    CollectionsImportRequestEvent,
    CollectionsListRequestEvent,
    RequestInfo,
)
from roost.core.records.cascade import delete_with_cascade, references_to
from roost.core.records.codec import Record
from roost.core.records.queries import ListQuery, Page
from roost.core.rules.engine import compile_condition, compile_order, new_binder
from roost.core.schema.collection import Collection, default_collection_id
from roost.core.schema.fields import field_from_dict

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
    page = Page([c.to_dict() for c in items], q.page, q.per_page, total, pages)
    hook = app.hooks.on_collections_list_request
    if hook.handlers:
        event = CollectionsListRequestEvent(app=app, info=info, page=page)
        await hook.trigger(event)
        page = event.page
    return page


async def view_collection(app: App, coll: Collection, info: RequestInfo) -> Collection:
    hook = app.hooks.on_collection_view_request
    if not hook.handlers:
        return coll
    event = CollectionRequestEvent(app=app, info=info, collection=coll)
    await hook.trigger(event)
    return event.collection or coll


async def create_collection(app: App, data: dict[str, Any], info: RequestInfo) -> Collection | None:
    event = CollectionRequestEvent(app=app, info=info, data=data)
    await app.hooks.on_collection_create_request.trigger(event, _create)
    return event.collection


async def _create(event: CollectionRequestEvent) -> None:
    event.collection = await event.app.collections.create(event.data)


async def update_collection(app: App, coll: Collection, data: dict[str, Any], info: RequestInfo) -> Collection | None:
    event = CollectionRequestEvent(app=app, info=info, collection=coll, data=data)
    await app.hooks.on_collection_update_request.trigger(event, _update)
    return event.collection


async def _update(event: CollectionRequestEvent) -> None:
    assert event.collection is not None
    event.collection = await event.app.collections.update(event.collection, event.data)


async def delete_collection(app: App, coll: Collection, info: RequestInfo) -> None:
    event = CollectionRequestEvent(app=app, info=info, collection=coll)
    await app.hooks.on_collection_delete_request.trigger(event, _delete)


async def _delete(event: CollectionRequestEvent) -> None:
    assert event.collection is not None
    await event.app.collections.delete(event.collection)



async def truncate(app: App, coll: Collection) -> None:
    """Delete every record of ``coll``, running the same cascades as single deletes."""
    if coll.is_view:
        raise BadRequest("Unsupported collection type.")
    table = quote_ident(coll.table, app.dialect)
    deleted: list[tuple[Collection, Record]] = []
    async with app.db.transaction() as conn:
        if not references_to(app, coll):
            await conn.execute(f"DELETE FROM {table}")
        else:
            for row in await conn.fetch_all(f'SELECT "id" FROM {table}'):
                await delete_with_cascade(app, conn, coll, {"id": row["id"]}, deleted=deleted)
    await app.response_cache.invalidate([coll, *(c for c, _ in deleted)], deletes=True)  # truncate publishes no events
    await app.storage.delete_prefix(coll.id)
    for gone_coll, gone in deleted:
        await app.storage.delete_prefix(f"{gone_coll.id}/{gone['id']}")


async def import_collections(app: App, items: Any, delete_missing: bool, info: RequestInfo) -> None:
    """Create or update each collection in ``items``; optionally delete the ones not listed."""
    event = CollectionsImportRequestEvent(app=app, info=info, collections_data=items, delete_missing=delete_missing)
    await app.hooks.on_collections_import_request.trigger(event, _import)


async def _import(event: CollectionsImportRequestEvent) -> None:
    app, items, delete_missing = event.app, event.collections_data, event.delete_missing
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ValidationFailed(
            "An error occurred while validating the submitted data.",
            {"collections": FieldError("validation_required", "Cannot be blank.")},
        )
    snapshot = app.collections.snapshot()
    current: dict[str, Any] = {}
    try:
        for data in items:
            current = data
            existing = app.collections.get(str(data.get("id") or "")) or app.collections.get(str(data.get("name") or ""))
            if existing is None:
                await app.collections.create(data)
            else:
                await app.collections.update(existing, data)
        if delete_missing:
            keep = {str(d.get("id") or "") for d in items} | {str(d.get("name") or "").lower() for d in items}
            for coll in app.collections.all():
                if not coll.system and coll.id not in keep and coll.name.lower() not in keep:
                    current = coll.to_dict()
                    await app.collections.delete(coll)
    except RoostError as exc:
        await app.collections.load()
        if not app.collections.all():
            app.collections.restore(snapshot)
        if isinstance(exc, ServiceUnavailable):
            raise  # the cluster's broker went away: not a fault of the imported data
        details = orjson.dumps(_plain_errors(exc.data), option=orjson.OPT_INDENT_2).decode() if exc.data else exc.message
        name = str(current.get("name", ""))
        cid = current.get("id") or default_collection_id(str(current.get("type") or "base"), name)
        raise ValidationFailed(
            "Failed to import collections.",
            {"collections": FieldError("validation_collections_import_failure",
                                       f"Data validations failed for collection \"{name}\" ({cid}):\n{details}.")},
        ) from exc


def _plain_errors(data: dict[str, Any]) -> dict[str, Any]:
    """Error data as PocketBase prints it inside import failures: lower-case messages only."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and "message" in value and "code" in value:
            message = str(value["message"])
            out[key] = (message[:1].lower() + message[1:]).rstrip(".")
        elif isinstance(value, dict):
            out[key] = _plain_errors(value)
    return out
