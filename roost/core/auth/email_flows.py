"""Verification, password reset and email change: request a mail, then confirm its token.

Request endpoints succeed whatever the address (nothing can be enumerated) and send at most
one verification or reset mail per record every two minutes. Confirm tokens are
single-purpose (their ``type`` claim) and die with the state they describe: a password or
email change rotates the record's tokenKey, and a verification token must still name the
record's current email.

Each flow fires its ``on_record_*_request`` hook once the record is known (a request for an
unknown address fires none); the final link sends the mail or saves the change, so a handler
that returns without ``e.next()`` quietly skips it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.core.auth import emails, tokens
from roost.core.auth.forms import (
    SUPERUSERS,
    check,
    email_error,
    find_by_email,
    length,
    random_password,
    required,
    save_as_system,
    strings,
)
from roost.core.errors import BadRequest, FieldError, Forbidden, Unauthorized
from roost.core.events import RecordEmailRequestEvent, RequestInfo
from roost.core.records.codec import Record
from roost.core.schema.collection import Collection
from roost.tools.security.passwords import verify_password

if TYPE_CHECKING:
    from roost.core.base import App

RESEND_WINDOW = 120


def _verification_key(coll: Collection, record: Record) -> str:
    return f"@limitVerificationEmail_{coll.id}{record['id']}"


def _reset_key(coll: Collection, record: Record) -> str:
    return f"@limitPasswordResetEmail_{coll.id}{record['id']}"


async def _throttled_send(app: App, key: str, coll: Collection, template: str, event: RecordEmailRequestEvent) -> None:
    record = event.record
    assert record is not None
    if await app.store.has(key):
        return
    await app.store.set(key, "1", RESEND_WINDOW)
    build = emails.verification if template == "verification" else emails.password_reset
    await emails.send(app, coll, template, record, build(app, coll, record))


async def _fire(
    hook: Any, app: App, coll: Collection, info: RequestInfo, record: Record, final: Callable[[RecordEmailRequestEvent], Awaitable[None]], new_email: str = ""
) -> None:
    event = RecordEmailRequestEvent(app=app, info=info, collection=coll, record=record, new_email=new_email)
    await hook.trigger(event, final)


async def request_verification(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    if coll.name == SUPERUSERS:
        raise BadRequest("All superusers are verified by default.")
    (email,) = strings(body, "email")
    check({"email": email_error(email)})
    record = await find_by_email(app, coll, email)
    if record is None or record.get("verified"):
        return
    final = partial(_throttled_send, app, _verification_key(coll, record), coll, "verification")
    await _fire(app.hooks.on_record_request_verification_request, app, coll, info, record, final)


async def _token_record(app: App, coll: Collection, token: str, token_type: str) -> tuple[Record | None, FieldError | None]:
    found = await tokens.verify(app, token, token_type)
    if found is None:
        return None, FieldError("validation_invalid_token", "Invalid or expired token.")
    if found[0].id != coll.id:
        return None, FieldError("validation_token_collection_mismatch", "The provided token is for different auth collection.")
    return found[1], None


async def confirm_verification(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    if coll.name == SUPERUSERS:
        raise BadRequest("All superusers are verified by default.")
    (token,) = strings(body, "token")
    check({"token": required(token)})
    email = str((tokens.unverified_claims(token) or {}).get("email") or "")
    if not email:
        check({"token": FieldError("validation_invalid_token_claims", "Missing email token claim.")})
    record, err = await _token_record(app, coll, token, tokens.VERIFICATION)
    if record is not None and record.get("email") != email:
        err = FieldError("validation_token_email_mismatch", "The record email doesn't match with the requested token claims.")
    check({"token": err})
    assert record is not None
    await _fire(app.hooks.on_record_confirm_verification_request, app, coll, info, record, _save_verified)


async def _save_verified(event: RecordEmailRequestEvent) -> None:
    app, coll, record = event.app, event.collection, event.record
    assert record is not None
    if not record.get("verified"):
        patch: dict[str, Any] = {"verified": True}
        if not (coll.options.get("passwordAuth") or {}).get("enabled"):
            # nobody could have used a password yet; make sure a pre-set one never works later
            patch.update(_password_patch(random_password()))
        await save_as_system(app, coll, record, patch, "An error occurred while saving the verified state.")
    await app.store.delete(_verification_key(coll, record))


async def request_password_reset(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    if not (coll.options.get("passwordAuth") or {}).get("enabled"):
        raise BadRequest("The collection is not configured to allow password authentication.")
    (email,) = strings(body, "email")
    check({"email": email_error(email)})
    record = await find_by_email(app, coll, email)
    if record is None:
        return
    final = partial(_throttled_send, app, _reset_key(coll, record), coll, "password-reset")
    await _fire(app.hooks.on_record_request_password_reset_request, app, coll, info, record, final)


async def confirm_password_reset(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    token, password, confirm = strings(body, "token", "password", "passwordConfirm")
    record, token_err = (None, required(token))
    if token_err is None:
        record, token_err = await _token_record(app, coll, token, tokens.PASSWORD_RESET)
    field = coll.get_field("password")
    low = max(1, int(getattr(field, "min", 0) or 0))
    confirm_err = required(confirm)
    if confirm_err is None and confirm != password:
        confirm_err = FieldError("validation_values_mismatch", "Values don't match.")
    check({"token": token_err, "password": required(password) or length(password, low, 255), "passwordConfirm": confirm_err})
    assert record is not None
    patch = _password_patch(password)
    claims = tokens.unverified_claims(token) or {}
    if not record.get("verified") and record.get("email") == claims.get("email"):
        patch["verified"] = True  # the mail reached the address, so it is confirmed too
    await _fire(app.hooks.on_record_confirm_password_reset_request, app, coll, info, record, partial(_save_password, patch))


async def _save_password(patch: dict[str, Any], event: RecordEmailRequestEvent) -> None:
    assert event.record is not None
    await save_as_system(event.app, event.collection, event.record, patch, "Failed to set new password.")
    await event.app.store.delete(_reset_key(event.collection, event.record))


async def request_email_change(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if info.auth_collection.id != coll.id:
        raise Forbidden(f"The request requires auth record from {info.auth_collection.name} collection.")
    if coll.name == SUPERUSERS:
        raise BadRequest("All superusers can change their emails directly.")
    record = dict(info.auth)
    (new_email,) = strings(body, "newEmail")
    err = email_error(new_email)
    if err is None and new_email == record.get("email"):
        err = FieldError("validation_not_in_invalid", "Must not be in list.")
    if err is None:
        other = await find_by_email(app, coll, new_email)
        if other is not None and other["id"] != record["id"]:
            err = FieldError("validation_invalid_new_email", "Invalid new email address.")
    check({"newEmail": err})
    await _fire(app.hooks.on_record_request_email_change_request, app, coll, info, record, _send_email_change, new_email)


async def _send_email_change(event: RecordEmailRequestEvent) -> None:
    app, coll, record = event.app, event.collection, event.record
    assert record is not None
    await emails.send(app, coll, "email-change", record, emails.email_change(app, coll, record, event.new_email))


async def confirm_email_change(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> None:
    if coll.name == SUPERUSERS:
        raise BadRequest("All superusers can change their emails directly.")
    token, password = strings(body, "token", "password")
    record, new_email, token_err = None, "", required(token)
    if token_err is None:
        record, new_email, token_err = await _email_change_token(app, coll, token)
    password_err = required(password) or length(password, 1, 100)
    if password_err is None and (record is None or not await _password_ok(coll, record, password)):
        password_err = FieldError("validation_invalid_password", "Missing or invalid auth record password.")
    check({"token": token_err, "password": password_err})
    assert record is not None
    await _fire(app.hooks.on_record_confirm_email_change_request, app, coll, info, record, _save_email, new_email)


async def _save_email(event: RecordEmailRequestEvent) -> None:
    assert event.record is not None
    changes = {"email": event.new_email, "verified": True}
    await save_as_system(event.app, event.collection, event.record, changes, "Failed to confirm email change.")


async def _email_change_token(app: App, coll: Collection, token: str) -> tuple[Record | None, str, FieldError | None]:
    new_email = str((tokens.unverified_claims(token) or {}).get("newEmail") or "")
    if not new_email:
        return None, "", FieldError("validation_invalid_token_payload", "Invalid token payload - newEmail must be set.")
    record, err = await _token_record(app, coll, token, tokens.EMAIL_CHANGE)
    if err is None and await find_by_email(app, coll, new_email) is not None:
        record, err = None, FieldError("validation_invalid_token_email", "The new email address is invalid.")
    return record, new_email, err


async def _password_ok(coll: Collection, record: Record, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password, str(record.get("password", "")))


def _password_patch(password: str) -> dict[str, Any]:
    return {"password": password, "passwordConfirm": password}
