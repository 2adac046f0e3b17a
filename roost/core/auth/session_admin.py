"""Listing and revoking cookie sessions: a record manages its own, superusers any record's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roost.core.auth import sessions
from roost.core.auth.flows import AUTH_CONTEXT_MISSING
from roost.core.errors import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.schema.fields.date import parse_datetime

if TYPE_CHECKING:
    from roost.core.base import App

UNAUTHORIZED = "The request requires valid record authorization token."


def _caller(info: RequestInfo) -> Record:
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized(UNAUTHORIZED)
    return info.auth


def target(app: App, info: RequestInfo, collection: str = "", record_id: str = "") -> tuple[str, str]:
    """(collection id, record id) whose sessions the caller addresses: its own unless a
    superuser names another record."""
    caller = _caller(info)
    assert info.auth_collection is not None
    if not collection and not record_id:
        return info.auth_collection.id, str(caller["id"])
    if not info.is_superuser:
        raise Forbidden("Only superusers can manage the sessions of another record.")
    coll = app.collections.get(collection)
    if coll is None or not coll.is_auth:
        raise NotFound(AUTH_CONTEXT_MISSING)
    if not record_id:
        raise ValidationFailed(
            "An error occurred while validating the submitted data.",
            {"record": FieldError("validation_required", "Cannot be blank.")},
        )
    return coll.id, record_id


async def _rows(app: App, collection_id: str, record_id: str) -> list[Record]:
    table = app.collections.get(sessions.SESSIONS)
    if table is None:
        return []
    codec = codec_for(table, app.dialect)
    rows = await app.db.fetch_all(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" '
        'WHERE "_r"."collectionRef" = :c AND "_r"."recordRef" = :r ORDER BY "_r"."created" DESC',
        {"c": collection_id, "r": record_id},
    )
    return [codec.decode(row) for row in rows]


def present(row: Record, current_id: str) -> dict[str, Any]:
    """A session as the API shows it (never its hashes)."""
    return {
        "id": row["id"], "collectionId": row["collectionRef"], "recordId": row["recordRef"],
        "userAgent": row.get("userAgent") or "", "ip": row.get("ip") or "", "created": row.get("created") or "",
        "lastSeen": row.get("lastSeen") or "", "expires": row.get("expires") or "", "current": row["id"] == current_id,
    }  # fmt: skip


def _live(row: Record) -> bool:
    expires = parse_datetime(row.get("expires"))
    return expires is not None and expires > datetime.now(UTC)


async def list_sessions(app: App, info: RequestInfo, collection: str = "", record_id: str = "") -> list[dict[str, Any]]:
    """The unexpired sessions of the caller (or, for a superuser, of the named record)."""
    coll_id, rec_id = target(app, info, collection, record_id)
    return [present(row, info.session_id) for row in await _rows(app, coll_id, rec_id) if _live(row)]


async def revoke(app: App, info: RequestInfo, session_id: str) -> None:
    """End one session of the caller (a superuser: any session); 404 for anything else."""
    caller = _caller(info)
    assert info.auth_collection is not None
    row = await sessions.find_by_id(app, session_id)
    own = row is not None and (row["collectionRef"], row["recordRef"]) == (info.auth_collection.id, caller["id"])
    if row is None or not (own or info.is_superuser):
        raise NotFound()
    await sessions.delete(app, [session_id])


async def revoke_all(app: App, info: RequestInfo, collection: str = "", record_id: str = "") -> list[str]:
    """End every session of the caller (or of the named record); returns the ended ids."""
    coll_id, rec_id = target(app, info, collection, record_id)
    return await sessions.delete(app, [str(row["id"]) for row in await _rows(app, coll_id, rec_id)])
