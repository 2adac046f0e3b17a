"""Bulk collection operations: truncate and import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from roost.core.cascade import delete_with_cascade, references_to
from roost.core.collections import Collection, default_collection_id
from roost.core.db import quote_ident
from roost.core.errors import BadRequest, FieldError, RoostError, ValidationFailed
from roost.core.record_io import Record

if TYPE_CHECKING:
    from roost.core.app import App


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


async def import_collections(app: App, items: Any, delete_missing: bool) -> None:
    """Create or update each collection in ``items``; optionally delete the ones not listed."""
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
