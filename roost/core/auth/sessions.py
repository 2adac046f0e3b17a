"""Browser cookie sessions (a Roost addition): server-side sessions behind an HttpOnly cookie.

A login that opts in (``?session=cookie`` or ``X-Roost-Session: cookie``) on a collection with
``cookieSessions.enabled`` gets an opaque random session id instead of a bearer token. Only
its SHA-256 is stored, in ``_authSessions``, with the user agent, IP, last use and expiry, and a
fingerprint of the record's token signing key: a tokenKey rotation (password or email change)
or a new collection token secret ends every session of the record, as it ends every token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from roost.core.auth import tokens
from roost.core.errors import BadRequest, NotFound
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.records.save import delete_by_id, fetch_record, save_changes, save_new
from roost.core.schema.auth_options import DEFAULT_SESSION_DURATION as DEFAULT_DURATION
from roost.core.schema.auth_options import SESSION_OPTION as OPTION
from roost.core.schema.auth_options import valid_session_duration as _valid_duration
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import format_datetime, parse_datetime
from roost.core.schema.system import (
    AUTH_SESSIONS,
    AUTH_SESSIONS_MIGRATION,
    auth_sessions_collection,
)

if TYPE_CHECKING:
    from roost.core.base import App

SESSIONS = AUTH_SESSIONS
#: lastSeen is written at most this often per session, so cookie auth stays a read
TOUCH_INTERVAL = 60
_USER_AGENT_MAX = 500


@dataclass(frozen=True)
class NewSession:
    """A session just created: ``secret`` goes into the cookie and is never stored."""

    id: str
    secret: str
    max_age: int


def options(coll: Collection) -> dict[str, Any]:
    return dict(coll.options.get(OPTION) or {})


def duration(coll: Collection) -> int:
    value = options(coll).get("duration")
    return value if _valid_duration(value) else DEFAULT_DURATION


def wants_cookie(info: RequestInfo) -> bool:
    """Did the login request opt in to a cookie session?"""
    return info.query.get("session") == "cookie" or info.headers.get("x_roost_session", "").lower() == "cookie"


def require_enabled(coll: Collection) -> None:
    if not options(coll).get("enabled"):
        raise BadRequest("The collection is not configured to allow cookie sessions.")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_hash(coll: Collection, record: Record) -> str:
    return hashlib.sha256(tokens.signing_key(coll, record, tokens.AUTH).encode()).hexdigest()


async def ensure_collection(app: App) -> Collection:
    """``_authSessions``, created on the first cookie login (migration ``4_authSessions``)."""
    return await app.collections.ensure_system(SESSIONS, auth_sessions_collection, AUTH_SESSIONS_MIGRATION)


async def start(app: App, coll: Collection, record: Record, info: RequestInfo) -> NewSession:
    """Store a new session of ``record``; the returned secret is the cookie value."""
    secret = secrets.token_urlsafe(32)
    sessions = await ensure_collection(app)
    seconds = duration(coll)
    now = datetime.now(UTC)
    row = await save_new(app, sessions, {
        "collectionRef": coll.id, "recordRef": record["id"], "sessionHash": hash_secret(secret),
        "keyHash": key_hash(coll, record), "userAgent": info.headers.get("user_agent", "")[:_USER_AGENT_MAX],
        "ip": info.ip, "lastSeen": format_datetime(now), "expires": format_datetime(now + timedelta(seconds=seconds)),
    })  # fmt: skip
    return NewSession(str(row["id"]), secret, seconds)


async def _find(app: App, column: str, value: str) -> Record | None:
    sessions = app.collections.get(SESSIONS)
    if sessions is None or not value:
        return None
    codec = codec_for(sessions, app.dialect)
    row = await app.db.fetch_one(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE "_r"."{column}" = :v LIMIT 1', {"v": value}
    )
    return codec.decode(row) if row else None


async def find_by_secret(app: App, secret: str) -> Record | None:
    return await _find(app, "sessionHash", hash_secret(secret) if secret else "")


async def find_by_id(app: App, session_id: str) -> Record | None:
    return await _find(app, "id", session_id)


async def resolve(app: App, secret: str) -> tuple[Collection, Record, Record] | None:
    """(auth collection, record, session) for a live session cookie, else None.

    A session that expired, whose record is gone or whose record's signing key changed is
    deleted on sight.
    """
    session = await find_by_secret(app, secret)
    if session is None:
        return None
    coll = app.collections.get(str(session.get("collectionRef", "")))
    record = await fetch_record(app, coll, str(session["recordRef"])) if coll is not None and coll.is_auth else None
    now = datetime.now(UTC)
    expires = parse_datetime(session.get("expires"))
    if coll is None or record is None or expires is None or expires <= now or session.get("keyHash") != key_hash(coll, record):
        await delete(app, [str(session["id"])])
        return None
    seen = parse_datetime(session.get("lastSeen"))
    if seen is None or (now - seen).total_seconds() >= TOUCH_INTERVAL:
        await _touch(app, str(session["id"]), now)
    return coll, record, session


async def _touch(app: App, session_id: str, now: datetime) -> None:
    sessions = app.collections.get(SESSIONS)
    if sessions is not None:
        await save_changes(app, sessions, session_id, {"lastSeen": format_datetime(now)})


async def delete(app: App, session_ids: list[str]) -> list[str]:
    """Delete sessions by id; returns the ids that were deleted."""
    sessions = app.collections.get(SESSIONS)
    removed: list[str] = []
    if sessions is None:
        return removed
    for session_id in session_ids:
        try:
            await delete_by_id(app, sessions, session_id)
        except NotFound:  # already deleted by a concurrent request
            continue
        removed.append(session_id)
    return removed


async def delete_expired(app: App) -> int:
    """Delete every expired session (run by the periodic cleanup); returns the count."""
    if app.collections.get(SESSIONS) is None:
        return 0
    rows = await app.db.fetch_all(
        f'SELECT "id" FROM "{SESSIONS}" WHERE "expires" <= :t', {"t": format_datetime(datetime.now(UTC))}
    )
    return len(await delete(app, [str(row["id"]) for row in rows]))
