"""Deleting a record together with what its relations demand.

For every relation field that points at the deleted record's collection: a cascading relation
deletes the referencing record once it would hold no ids; a non-cascading one drops the id, and
a required one that would become empty blocks the delete.

The model level passes ``delete_ref`` so that every record a cascade deletes goes through the
delete hooks; without it (truncate) the cascade deletes directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from roost.core.db.facade import Connection, json_array_contains, quote_ident
from roost.core.errors import BadRequest
from roost.core.records.codec import Record, codec_for
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

REQUIRED_REFERENCE = (
    "Failed to delete record. Make sure that the record is not part of a required relation reference."
)
MAX_DEPTH = 32
#: deletes one referencing record (and its own cascades) at the given depth
DeleteRef = Callable[[Collection, Record, int], Awaitable[None]]


def references_to(app: App, coll: Collection) -> list[tuple[Collection, Any]]:
    """(collection, relation field) pairs that point at ``coll``."""
    out = []
    for other in app.collections.all():
        if other.is_view:
            continue
        for field in other.fields:
            if field.type == "relation" and getattr(field, "collectionId", "") == coll.id:
                out.append((other, field))
    return out


async def delete_with_cascade(
    app: App,
    conn: Connection,
    coll: Collection,
    record: Record,
    depth: int = 0,
    deleted: list[tuple[Collection, Record]] | None = None,
    *,
    delete_ref: DeleteRef | None = None,
) -> None:
    """Delete one record and apply its relations' cascades; ``deleted`` collects every removed record."""
    if depth > MAX_DEPTH:
        raise BadRequest("Failed to delete record.")
    record_id = record["id"]
    for other, field in references_to(app, coll):
        await _detach(app, conn, other, field, record_id, depth, deleted, delete_ref)
    await conn.execute(f'DELETE FROM {quote_ident(coll.table, conn.dialect)} WHERE "id" = :id', {"id": record_id})
    if coll.is_auth:
        await _delete_owned_rows(app, conn, coll.id, record_id)
    if deleted is not None:
        deleted.append((coll, record))


def _owned_collections(app: App) -> list[Collection]:
    """System collections whose rows belong to an auth record (``collectionRef`` + ``recordRef``):
    external auths, MFA and OTP state, auth origins, TOTP, passkeys and cookie sessions."""
    return [
        c for c in app.collections.all()
        if c.system and not c.is_view and {"collectionRef", "recordRef"} <= {f.name for f in c.fields}
    ]


async def _delete_owned_rows(app: App, conn: Connection, collection_id: str, record_id: str) -> None:
    # a deleted auth record takes its linked logins, one-time codes, credentials and sessions
    # with it, so none of them can outlive it or attach to a later record
    for owned in _owned_collections(app):
        await conn.execute(
            f'DELETE FROM {quote_ident(owned.table, conn.dialect)} WHERE "collectionRef" = :c AND "recordRef" = :r',
            {"c": collection_id, "r": record_id},
        )


async def _detach(
    app: App,
    conn: Connection,
    other: Collection,
    field: Any,
    record_id: str,
    depth: int,
    deleted: list[tuple[Collection, Record]] | None,
    delete_ref: DeleteRef | None,
) -> None:
    d = conn.dialect
    column = quote_ident(field.name, d)
    codec = codec_for(other, d)
    cond = json_array_contains(column, "ref", d) if field.is_multiple() else f"{column} = :ref"
    rows = await conn.fetch_all(f"SELECT {codec.select('_r')} FROM {codec.table} AS _r WHERE {cond.replace(column, '_r.' + column)}", {"ref": record_id})
    for row in rows:
        ref = codec.decode(row)
        if other.id == field.collectionId and ref["id"] == record_id:
            continue  # self reference on the record being deleted
        current = ref.get(field.name)
        remaining = [v for v in current if v != record_id] if isinstance(current, list) else []
        if not remaining and field.cascadeDelete:
            if delete_ref is not None:
                await delete_ref(other, ref, depth + 1)
            else:
                await delete_with_cascade(app, conn, other, ref, depth + 1, deleted)
            continue
        if not remaining and field.required:
            raise BadRequest(REQUIRED_REFERENCE)
        new_value = remaining if field.is_multiple() else ""
        placeholder = codec.placeholder(field.name, "v")
        await conn.execute(
            f'UPDATE {codec.table} SET {column} = {placeholder} WHERE "id" = :id', {"v": field.to_db(new_value), "id": ref["id"]}
        )
