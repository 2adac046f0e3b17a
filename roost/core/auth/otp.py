"""E-mail one-time passwords: ``request-otp`` and ``auth-with-otp``.

Codes are stored hashed in ``_otps`` (the collection's password field) and mailed in the
background. Unknown addresses get a random id, so the answer never tells whether an account
exists; wrong codes are limited per record (5 tries per 180 seconds).
"""

from __future__ import annotations

import asyncio
import secrets
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.core.auth import emails
from roost.core.auth.flows import complete, finish_auth
from roost.core.auth.forms import (
    check,
    cutoff,
    email_error,
    expired,
    find_by_email,
    length,
    random_password,
    required,
    save_as_system,
    strings,
)
from roost.core.errors import BadRequest, Forbidden, TooManyRequests
from roost.core.events import (
    RecordAuthWithOTPRequestEvent,
    RecordCreateOTPRequestEvent,
    RequestInfo,
)
from roost.core.records.codec import Record
from roost.core.records.save import delete_by_id, fetch_record, new_record_id, save_new
from roost.core.schema.collection import Collection
from roost.tools.security.passwords import verify_password

if TYPE_CHECKING:
    from roost.core.base import App

OTPS = "_otps"
INVALID = "Invalid or expired OTP."
ATTEMPTS = 5
ATTEMPTS_WINDOW = 180
#: live codes per record before the newest one is handed out again instead of a new one
MAX_LIVE = 10


def options(coll: Collection) -> dict[str, Any]:
    return dict(coll.options.get("otp") or {})


def _require_enabled(coll: Collection) -> dict[str, Any]:
    opts = options(coll)
    if not opts.get("enabled"):
        raise Forbidden("The collection is not configured to allow OTP authentication.")
    return opts


async def request_otp(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> str:
    """Mail a fresh code to the record with ``body["email"]``; returns the OTP id.

    ``on_record_request_otp_request`` fires for a known address only; its final link stores
    and mails the code (a handler that stops the chain gets a random id answered instead).
    """
    opts = _require_enabled(coll)
    (email,) = strings(body, "email")
    check({"email": email_error(email)})
    record = await find_by_email(app, coll, email)
    if record is None:
        return new_record_id()
    code = "".join(secrets.choice("0123456789") for _ in range(int(opts.get("length") or 8)))
    event = RecordCreateOTPRequestEvent(app=app, info=info, collection=coll, record=record, password=code)
    sent: list[str] = []

    async def final(e: RecordCreateOTPRequestEvent) -> None:
        assert e.record is not None
        sent.append(await _send_code(e.app, e.collection, e.record, e.password, opts))

    await app.hooks.on_record_request_otp_request.trigger(event, final)
    return sent[0] if sent else new_record_id()


async def _send_code(app: App, coll: Collection, record: Record, code: str, opts: dict[str, Any]) -> str:
    otps = app.collections.get(OTPS)
    assert otps is not None
    duration = int(opts.get("duration") or 180)
    live = await app.db.fetch_all(
        'SELECT "id" FROM "_otps" WHERE "collectionRef" = :c AND "recordRef" = :r AND "created" > :t ORDER BY "created" DESC',
        {"c": coll.id, "r": record["id"], "t": cutoff(duration)},
    )
    if len(live) >= MAX_LIVE:
        return str(live[0]["id"])
    to = str(record.get("email", ""))
    row = await save_new(app, otps, {"collectionRef": coll.id, "recordRef": record["id"], "password": code, "sentTo": to})
    message = emails.otp(app, coll, record, row["id"], code, to)
    await emails.send(app, coll, "otp", record, message, meta={"otpId": str(row["id"])})
    return str(row["id"])


async def auth_with_otp(app: App, coll: Collection, body: dict[str, Any], info: RequestInfo) -> tuple[Record, str]:
    """Exchange an OTP id and code for an auth token (through ``finish_auth``, so MFA applies)."""
    opts = _require_enabled(coll)
    otp_id, password = strings(body, "otpId", "password")
    check({"otpId": required(otp_id) or length(otp_id, 1, 255), "password": required(password) or length(password, 1, 71)})
    otps = app.collections.get(OTPS)
    assert otps is not None
    row = await fetch_record(app, otps, otp_id)
    if row is None or row.get("collectionRef") != coll.id or expired(row, int(opts.get("duration") or 180)):
        raise BadRequest(INVALID)
    record = await fetch_record(app, coll, str(row.get("recordRef", "")))
    if record is None:
        raise BadRequest(INVALID)
    if await app.store.incr(f"@otp_attempts_{coll.id}_{record['id']}", ATTEMPTS_WINDOW) > ATTEMPTS:
        raise TooManyRequests("Too many attempts, please try again later with a new OTP.")
    if not await asyncio.to_thread(verify_password, password, str(row.get("password", ""))):
        raise BadRequest(INVALID)
    event = RecordAuthWithOTPRequestEvent(app=app, info=info, collection=coll, record=record, otp=row)
    return await complete(app.hooks.on_record_auth_with_otp_request, event, partial(_finish, body))


async def _finish(body: dict[str, Any], event: RecordAuthWithOTPRequestEvent) -> tuple[Record, str]:
    app, coll, record, row = event.app, event.collection, event.record, event.otp
    assert record is not None and row is not None
    sent_to = str(row.get("sentTo") or "")
    if not record.get("verified") and sent_to and sent_to == record.get("email"):
        record = await _mark_verified(app, coll, record)
    otps = app.collections.get(OTPS)
    assert otps is not None
    await delete_by_id(app, otps, str(row["id"]))
    return await finish_auth(app, coll, record, event.info, "otp", body)


async def _mark_verified(app: App, coll: Collection, record: Record) -> Record:
    """The code reached the record's own address, which proves it. Without MFA the old
    password is also replaced, so one set by someone who pre-registered the address dies."""
    patch: dict[str, Any] = {"verified": True}
    if not (coll.options.get("mfa") or {}).get("enabled"):
        secret = random_password()
        patch.update(password=secret, passwordConfirm=secret)
    return await save_as_system(app, coll, record, patch, "Failed to authenticate.")
