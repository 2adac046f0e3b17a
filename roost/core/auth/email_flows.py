"""Verification, password reset and email change: request a mail, then confirm its token.

Request endpoints succeed whatever the address (nothing can be enumerated) and send at most
one verification or reset mail per record every two minutes. Confirm tokens are
single-purpose (their ``type`` claim) and die with the state they describe: a password or
email change rotates the record's tokenKey, and a verification token must still name the
record's current email.
"""

from __future__ import annotations

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
from roost.core.collections import Collection
from roost.core.errors import BadRequest, FieldError, Forbidden, Unauthorized
from roost.core.events import RequestInfo
from roost.core.record_io import Record

if TYPE_CHECKING:
    from roost.core.app import App

RESEND_WINDOW = 120


def _verification_key(coll: Collection, record: Record) -> str:
    return f"@limitVerificationEmail_{coll.id}{record['id']}"


def _reset_key(coll: Collection, record: Record) -> str:
    return f"@limitPasswordResetEmail_{coll.id}{record['id']}"


async def _throttled_send(app: App, key: str, build: Any) -> None:
    if await app.store.has(key):
        return
    await app.store.set(key, "1", RESEND_WINDOW)
    app.mail.enqueue(build())


async def request_verification(app: App, coll: Collection, body: dict[str, Any]) -> None:
    if coll.name == SUPERUSERS:
        raise BadRequest("All superusers are verified by default.")
    (email,) = strings(body, "email")
    check({"email": email_error(email)})
    record = await find_by_email(app, coll, email)
    if record is None or record.get("verified"):
        return
    await _throttled_send(app, _verification_key(coll, record), lambda: emails.verification(app, coll, record))


async def _token_record(app: App, coll: Collection, token: str, token_type: str) -> tuple[Record | None, FieldError | None]:
    found = await tokens.verify(app, token, token_type)
    if found is None:
        return None, FieldError("validation_invalid_token", "Invalid or expired token.")
    if found[0].id != coll.id:
        return None, FieldError("validation_token_collection_mismatch", "The provided token is for different auth collection.")
    return found[1], None


async def confirm_verification(app: App, coll: Collection, body: dict[str, Any]) -> None:
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
    if not record.get("verified"):
        patch: dict[str, Any] = {"verified": True}
        if not (coll.options.get("passwordAuth") or {}).get("enabled"):
            # nobody could have used a password yet; make sure a pre-set one never works later
            patch.update(_password_patch(random_password()))
        await save_as_system(app, coll, record, patch, "An error occurred while saving the verified state.")
    await app.store.delete(_verification_key(coll, record))


async def request_password_reset(app: App, coll: Collection, body: dict[str, Any]) -> None:
    if not (coll.options.get("passwordAuth") or {}).get("enabled"):
        raise BadRequest("The collection is not configured to allow password authentication.")
    (email,) = strings(body, "email")
    check({"email": email_error(email)})
    record = await find_by_email(app, coll, email)
    if record is None:
        return
    await _throttled_send(app, _reset_key(coll, record), lambda: emails.password_reset(app, coll, record))


async def confirm_password_reset(app: App, coll: Collection, body: dict[str, Any]) -> None:
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
    await save_as_system(app, coll, record, patch, "Failed to set new password.")
    await app.store.delete(_reset_key(coll, record))


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
    app.mail.enqueue(emails.email_change(app, coll, record, new_email))


async def confirm_email_change(app: App, coll: Collection, body: dict[str, Any]) -> None:
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
    await save_as_system(app, coll, record, {"email": new_email, "verified": True}, "Failed to confirm email change.")


async def _email_change_token(app: App, coll: Collection, token: str) -> tuple[Record | None, str, FieldError | None]:
    new_email = str((tokens.unverified_claims(token) or {}).get("newEmail") or "")
    if not new_email:
        return None, "", FieldError("validation_invalid_token_payload", "Invalid token payload - newEmail must be set.")
    record, err = await _token_record(app, coll, token, tokens.EMAIL_CHANGE)
    if err is None and await find_by_email(app, coll, new_email) is not None:
        record, err = None, FieldError("validation_invalid_token_email", "The new email address is invalid.")
    return record, new_email, err


async def _password_ok(coll: Collection, record: Record, password: str) -> bool:
    import asyncio

    from roost.core.auth.passwords import verify_password

    return await asyncio.to_thread(verify_password, password, str(record.get("password", "")))


def _password_patch(password: str) -> dict[str, Any]:
    return {"password": password, "passwordConfirm": password}
