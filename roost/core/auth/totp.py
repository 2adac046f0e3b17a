"""TOTP authenticator apps (a Roost addition to PocketBase's auth methods).

One ``_totps`` row per auth record holds the secret (sealed with the settings' secret box
when ``ROOST_ENCRYPTION_KEY`` is set), whether the enrolment is confirmed, the last time step
used (a step is never accepted twice, so a code cannot be replayed within its window) and
the SHA-256 hashes of single-use recovery codes.

TOTP completes an MFA challenge (``auth-with-totp`` with ``mfaId``) and, when the collection
option ``totp.enabled`` is set, is also a login method on its own (``identity`` + ``code``).
Attempts are limited per record like OTP: 5 per 180 seconds, then 429 (a valid code clears the count).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any

import pyotp

from roost.core.auth.flows import find_by_identity_fields, finish_auth, identity_fields
from roost.core.auth.forms import caller_record, check, length, required, strings
from roost.core.auth.mfa import record_of_mfa
from roost.core.errors import BadRequest, FieldError, Forbidden, TooManyRequests
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.records.save import delete_by_id, fetch_record, save_changes, save_new
from roost.core.schema.collection import Collection
from roost.core.schema.system import TOTP_MIGRATION, TOTPS, totp_collection
from roost.tools.security.passwords import verify_password

if TYPE_CHECKING:
    from roost.core.base import App

METHOD = "totp"
INVALID = "Invalid or expired TOTP code."
ATTEMPTS = 5
ATTEMPTS_WINDOW = 180
STEP = 30
#: accepted clock drift, in steps either side of now
DRIFT = 1
RECOVERY_CODES = 10


def options(coll: Collection) -> dict[str, Any]:
    return dict(coll.options.get("totp") or {})


def _invalid(code: str = "validation_invalid_totp") -> BadRequest:
    return BadRequest(INVALID, {"code": FieldError(code, INVALID)})


async def ensure_collection(app: App) -> Collection:
    """``_totps``, created through the collection store on first need (migration ``2_totps``)."""
    return await app.collections.ensure_system(TOTPS, totp_collection, TOTP_MIGRATION)


def _seal(app: App, secret: str) -> str:
    box = app.settings.box
    return box.seal(secret) if box is not None else secret


def _open(app: App, stored: str) -> str:
    box = app.settings.box
    return box.open(stored) if box is not None else stored


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


async def find(app: App, coll: Collection, record_id: str) -> Record | None:
    totps = await ensure_collection(app)
    codec = codec_for(totps, app.dialect)
    row = await app.db.fetch_one(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE "_r"."collectionRef" = :c AND "_r"."recordRef" = :r LIMIT 1',
        {"c": coll.id, "r": record_id},
    )
    return codec.decode(row) if row else None


async def enroll(app: App, coll: Collection, info: RequestInfo) -> dict[str, str]:
    """A fresh secret for the caller (inactive until :func:`confirm`)."""
    record = caller_record(coll, info)
    totps = await ensure_collection(app)
    existing = await find(app, coll, record["id"])
    if existing is not None and existing.get("confirmed"):
        raise BadRequest("TOTP is already enabled; disable it first.", {"totp": FieldError("validation_totp_enabled", "TOTP is already enabled.")})
    secret = pyotp.random_base32()
    data = {"secret": _seal(app, secret), "confirmed": False, "lastUsedStep": 0, "recoveryHashes": []}
    if existing is None:
        await save_new(app, totps, {"collectionRef": coll.id, "recordRef": record["id"], **data})
    else:
        await save_changes(app, totps, existing["id"], data)
    name = str(record.get("email") or record.get("username") or record["id"])
    issuer = str((app.settings.data.get("meta") or {}).get("appName") or "Roost")
    return {"secret": secret, "otpauthURI": pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)}


async def _claim_attempt(app: App, coll: Collection, record_id: str) -> str:
    """Count an attempt before its code is checked (one atomic increment), so a concurrent
    burst gets no more than ``ATTEMPTS`` codes checked; 429 past that. A success clears it."""
    key = f"@totp_attempts_{coll.id}_{record_id}"
    if await app.store.incr(key, ATTEMPTS_WINDOW) > ATTEMPTS:
        raise TooManyRequests("Too many attempts, please try again later.")
    return key


async def _verify(app: App, coll: Collection, row: Record, code: str, *, recovery: bool) -> bool:
    """Accept a TOTP code for a step never used before (or, if allowed, a recovery code)."""
    totps = await ensure_collection(app)
    key = await _claim_attempt(app, coll, str(row["recordRef"]))
    code = code.strip()
    totp = pyotp.TOTP(_open(app, str(row.get("secret") or "")))
    now = int(time.time()) // STEP
    last = int(row.get("lastUsedStep") or 0)
    if code.isdigit() and len(code) == 6 and totp.secret:
        for step in range(now - DRIFT, now + DRIFT + 1):
            if step <= last or not hmac.compare_digest(totp.at(step * STEP), code):
                continue
            # claim the step atomically (shared store) before recording it, so two racing
            # requests with the same code cannot both pass
            if await app.store.incr(f"@totp_step_{row['id']}_{step}", STEP * (2 * DRIFT + 2)) > 1:
                break
            await save_changes(app, totps, row["id"], {"lastUsedStep": step})
            await app.store.delete(key)
            return True
    elif recovery and row.get("confirmed"):
        hashes = [str(h) for h in (row.get("recoveryHashes") or [])]
        wanted = _hash(code)
        for stored in hashes:
            if hmac.compare_digest(stored, wanted):
                if await app.store.incr(f"@totp_recovery_{row['id']}_{wanted}", 3600) > 1:
                    break
                await save_changes(app, totps, row["id"], {"recoveryHashes": [h for h in hashes if h != stored]})
                await app.store.delete(key)
                return True
    return False


def _code(body: dict[str, Any]) -> str:
    (code,) = strings(body, "code")
    check({"code": required(code) or length(code, 1, 64)})
    return code


async def confirm(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> list[str]:
    """Activate the pending enrolment with a first valid code; returns the recovery codes."""
    record = caller_record(coll, info)
    code = _code(body)
    row = await find(app, coll, record["id"])
    if row is None or row.get("confirmed"):
        raise BadRequest("There is no pending TOTP enrolment.", {"totp": FieldError("validation_totp_not_pending", "Enrol first.")})
    if not await _verify(app, coll, row, code, recovery=False):
        raise _invalid()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    totps = await ensure_collection(app)
    await save_changes(app, totps, row["id"], {"confirmed": True, "recoveryHashes": [_hash(c) for c in codes]})
    return codes


async def disable(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    """Remove the caller's TOTP, proven by a current code, a recovery code or the password."""
    owner = caller_record(coll, info)
    code, password = strings(body, "code", "password")
    if not code and not password:
        check({"code": required(code)})
    row = await find(app, coll, owner["id"])
    if row is None:
        raise BadRequest("TOTP is not enabled.", {"totp": FieldError("validation_totp_not_enabled", "TOTP is not enabled.")})
    ok = False
    if code:
        ok = await _verify(app, coll, row, code, recovery=True)
    elif password:
        await _claim_attempt(app, coll, owner["id"])
        record = await fetch_record(app, coll, owner["id"])
        ok = record is not None and await asyncio.to_thread(verify_password, password, str(record.get("password", "")))
    if not ok:
        if password and not code:
            raise BadRequest("Invalid password.", {"password": FieldError("validation_invalid_password", "Invalid password.")})
        raise _invalid()
    totps = await ensure_collection(app)
    await delete_by_id(app, totps, row["id"])


async def auth_with_totp(app: App, coll: Collection, body: dict[str, Any], info: RequestInfo) -> tuple[Record, str]:
    """``{mfaId, code}`` (second factor) or ``{identity, code}`` (login method, if enabled)."""
    mfa_id = info.query.get("mfaId") or body.get("mfaId") or ""
    if not isinstance(mfa_id, str):
        raise BadRequest("Failed to read MFA Id.")
    if mfa_id:
        code = _code(body)
        record = await record_of_mfa(app, coll, mfa_id)
    else:
        opts = options(coll)
        if not opts.get("enabled"):
            raise Forbidden("The collection is not configured to allow TOTP authentication.")
        identity, code = strings(body, "identity", "code")
        check({"identity": required(identity) or length(identity, 1, 255), "code": required(code) or length(code, 1, 64)})
        found = await find_by_identity_fields(app, coll, identity_fields(coll, opts), identity)
        if found is None:
            raise _invalid()
        record = found
    row = await find(app, coll, record["id"])
    if row is None or not row.get("confirmed"):
        await _claim_attempt(app, coll, record["id"])
        raise _invalid()
    if not await _verify(app, coll, row, code, recovery=True):
        raise _invalid()
    return await finish_auth(app, coll, record, info, METHOD, body)
