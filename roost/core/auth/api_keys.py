"""API keys: long-lived service credentials, stored only as a SHA-256 hash.

A key is ``rk_`` plus 32 random bytes (URL-safe base64), shown once when it is created. The
``_apiKeys`` table keeps its hash, a short display prefix, its scopes, an optional expiry and an
optional IP allow-list. A request made with a key acts as the key's own principal
(``@request.auth.collectionName = "_apiKeys"``, ``@request.auth.id`` = the key id); its scopes
are checked before any rule (:func:`roost.core.rules.engine.require_rule`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt
import orjson

from roost.core.db.facade import Connection
from roost.core.errors import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from roost.core.events import RequestInfo
from roost.core.schema.api_keys import ApiKeyGrant, normalize_scopes, principal_collection
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import format_datetime, now_string, parse_datetime
from roost.tools.ratelimit.rules import excluded

if TYPE_CHECKING:
    from roost.core.base import App

PREFIX = "rk_"
#: the part of a key kept in clear text to tell keys apart (``rk_`` and 8 characters)
DISPLAY_CHARS = 11
INVALID_KEY = "The API key is invalid, expired or revoked."
IP_NOT_ALLOWED = "The API key is not allowed from this IP address."
FILE_TOKEN_SECONDS = 180
LAST_USED_EVERY = 60
_ID_ALPHABET = string.ascii_lowercase + string.digits
_DDL = (
    'CREATE TABLE IF NOT EXISTS "_apiKeys" ("id" VARCHAR(32) PRIMARY KEY NOT NULL, "name" VARCHAR(255) NOT NULL, '
    '"prefix" VARCHAR(32) NOT NULL, "hash" VARCHAR(64) NOT NULL, "scopes" TEXT NOT NULL, "allowedIPs" TEXT NOT NULL, '
    '"expires" VARCHAR(32) NOT NULL, "lastUsed" VARCHAR(32) NOT NULL, "created" VARCHAR(32) NOT NULL, '
    '"updated" VARCHAR(32) NOT NULL)',
    'CREATE UNIQUE INDEX IF NOT EXISTS "idx__apiKeys_hash" ON "_apiKeys" ("hash")',
)
_COLUMNS = '"id", "name", "prefix", "scopes", "allowedIPs", "expires", "lastUsed", "created", "updated"'


async def create_table(conn: Connection) -> None:
    """Create ``_apiKeys`` and its index if they are missing (a system migration)."""
    for sql in _DDL:
        await conn.execute(sql.replace('"', "`") if conn.dialect == "mysql" else sql)


def key_hash(plaintext: str) -> str:
    # a key carries 256 random bits, so one unsalted SHA-256 is as strong as a slow hash here
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _sql(app: App, sql: str) -> str:
    return sql.replace('"', "`") if app.dialect == "mysql" else sql


def _public(row: Any) -> dict[str, Any]:
    """A stored key as the API shows it: never the hash."""
    return {
        "id": row["id"], "name": row["name"], "prefix": row["prefix"],
        "scopes": orjson.loads(row["scopes"]), "allowedIPs": orjson.loads(row["allowedIPs"]),
        "expires": row["expires"], "lastUsed": row["lastUsed"], "created": row["created"], "updated": row["updated"],
    }  # fmt: skip


def _validated(data: dict[str, Any]) -> tuple[str, list[str], list[str], str]:
    errors: dict[str, Any] = {}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = FieldError("validation_required", "Cannot be blank.")
    elif len(name) > 255:
        errors["name"] = FieldError("validation_length_too_long", "The length must be no more than 255.")
    scopes = normalize_scopes(data.get("scopes"))
    if scopes is None:
        errors["scopes"] = FieldError("validation_invalid_scopes", 'Must be a list like ["posts:list", "posts:*", "*"].')
    ips = data.get("allowedIPs") or []
    if not isinstance(ips, list) or not all(isinstance(ip, str) and _ip_entry_ok(ip) for ip in ips):
        errors["allowedIPs"] = FieldError("validation_invalid_ip", "Must be a list of IP addresses or CIDR ranges.")
    expires = data.get("expires") or ""
    moment = parse_datetime(expires) if expires else None
    if expires and (moment is None or moment <= datetime.now(UTC)):
        errors["expires"] = FieldError("validation_invalid_date", "Must be a valid date in the future.")
    if errors:
        raise ValidationFailed("Failed to create API key.", errors)
    return str(name).strip(), scopes or [], list(ips), format_datetime(moment) if moment else ""


def _ip_entry_ok(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


async def create_key(app: App, data: dict[str, Any]) -> dict[str, Any]:
    """Store a new key; the answer carries the plaintext ``key``, which is never stored or shown again."""
    name, scopes, ips, expires = _validated(data)
    plaintext = PREFIX + secrets.token_urlsafe(32)
    now = now_string()
    row = {"id": "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)), "name": name,
           "prefix": plaintext[:DISPLAY_CHARS], "hash": key_hash(plaintext), "scopes": orjson.dumps(scopes).decode(),
           "allowedIPs": orjson.dumps(ips).decode(), "expires": expires, "lastUsed": "", "created": now, "updated": now}  # fmt: skip
    async with app.db.transaction() as conn:
        await conn.execute(
            _sql(app, f'INSERT INTO "_apiKeys" ({_COLUMNS}, "hash") VALUES '
                      '(:id, :name, :prefix, :scopes, :allowedIPs, :expires, :lastUsed, :created, :updated, :hash)'),
            row,
        )  # fmt: skip
    return {**_public(row), "key": plaintext}


async def list_keys(app: App) -> list[dict[str, Any]]:
    rows = await app.db.fetch_all(_sql(app, f'SELECT {_COLUMNS} FROM "_apiKeys" ORDER BY "created", "id"'))
    return [_public(row) for row in rows]


async def view_key(app: App, key_id: str) -> dict[str, Any]:
    row = await app.db.fetch_one(_sql(app, f'SELECT {_COLUMNS} FROM "_apiKeys" WHERE "id" = :id'), {"id": key_id})
    if row is None:
        raise NotFound()
    return _public(row)


async def revoke_key(app: App, key_id: str) -> None:
    """Delete the key: the next request made with it is refused."""
    async with app.db.transaction() as conn:
        if not await conn.execute(_sql(app, 'DELETE FROM "_apiKeys" WHERE "id" = :id'), {"id": key_id}):
            raise NotFound()


def looks_like_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


async def authenticate(app: App, plaintext: str, info: RequestInfo) -> None:
    """Make ``info`` the key's principal; 401 for an unknown, revoked or expired key, 403 off its IP list."""
    row = await app.db.fetch_one(
        _sql(app, f'SELECT {_COLUMNS} FROM "_apiKeys" WHERE "hash" = :hash'), {"hash": key_hash(plaintext)}
    )
    if row is None or _expired(str(row["expires"])):
        raise Unauthorized(INVALID_KEY)
    _grant_to(info, row)
    await _touch(app, row)


async def _touch(app: App, row: Any) -> None:
    """Record when the key was last used, at most once a minute (one write, not one per request)."""
    last = parse_datetime(row["lastUsed"]) if row["lastUsed"] else None
    now = datetime.now(UTC)
    if last is not None and (now - last).total_seconds() < LAST_USED_EVERY:
        return
    async with app.db.transaction() as conn:
        await conn.execute(_sql(app, 'UPDATE "_apiKeys" SET "lastUsed" = :now WHERE "id" = :id'),
                           {"now": format_datetime(now), "id": row["id"]})  # fmt: skip


def _grant_to(info: RequestInfo, row: Any) -> None:
    ips = orjson.loads(row["allowedIPs"])
    if ips and not excluded(info.ip, ips):
        raise Forbidden(IP_NOT_ALLOWED)
    info.auth_collection = principal_collection()
    info.auth = {"id": row["id"], "name": row["name"]}
    info.api_key = ApiKeyGrant(str(row["id"]), str(row["name"]), tuple(orjson.loads(row["scopes"])))


def _expired(expires: str) -> bool:
    moment = parse_datetime(expires) if expires else None
    return moment is not None and moment <= datetime.now(UTC)


async def _hash_of(app: App, key_id: str) -> tuple[Any, str] | None:
    row = await app.db.fetch_one(
        _sql(app, f'SELECT {_COLUMNS}, "hash" FROM "_apiKeys" WHERE "id" = :id'), {"id": key_id}
    )
    return None if row is None or _expired(str(row["expires"])) else (row, str(row["hash"]))


async def issue_file_token(app: App, grant: ApiKeyGrant) -> str:
    """A short-lived file token for a key, signed with its stored hash (revoking the key voids it)."""
    found = await _hash_of(app, grant.id)
    if found is None:
        raise Unauthorized(INVALID_KEY)
    payload = {"apiKey": grant.id, "type": "file", "exp": int(time.time()) + FILE_TOKEN_SECONDS}
    return jwt.encode(payload, found[1], algorithm="HS256")


async def verify_file_token(app: App, token: str, coll: Collection, info: RequestInfo) -> bool:
    """True when ``token`` is a key's valid file token and the key may view ``coll``; fills ``info``."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    key_id = claims.get("apiKey")
    found = await _hash_of(app, str(key_id)) if isinstance(key_id, str) else None
    if found is None:
        return False
    try:
        jwt.decode(token, found[1], algorithms=["HS256"])
        _grant_to(info, found[0])
    except (jwt.PyJWTError, Forbidden):
        return False
    return info.api_key is not None and info.api_key.allows(coll, "view")
