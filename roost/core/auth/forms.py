"""Small validation helpers shared by the auth request bodies (PocketBase's codes and wording)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from roost.core.errors import BadRequest, FieldError, Forbidden, Unauthorized, ValidationFailed
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.records.save import save_changes
from roost.core.schema.fields.date import format_datetime, parse_datetime
from roost.core.schema.fields.email import is_email

if TYPE_CHECKING:
    from roost.core.base import App
    from roost.core.records.codec import Record
    from roost.core.schema.collection import Collection

VALIDATION_MESSAGE = "An error occurred while validating the submitted data."
LOAD_MESSAGE = "An error occurred while loading the submitted data."
SUPERUSERS = "_superusers"


def strings(body: dict[str, Any], *keys: str) -> list[str]:
    """The string values of ``keys`` (missing = ""); another JSON type is a load error."""
    out = []
    for key in keys:
        value = body.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadRequest(LOAD_MESSAGE)
        out.append(value)
    return out


def required(value: str) -> FieldError | None:
    return None if value else FieldError("validation_required", "Cannot be blank.")


def length(value: str, low: int, high: int) -> FieldError | None:
    if low <= len(value) <= high:
        return None
    return FieldError(
        "validation_length_out_of_range", f"The length must be between {low} and {high}.", {"max": high, "min": low}
    )


def email_error(value: str) -> FieldError | None:
    """Required, 1-255 characters, and an e-mail address."""
    err = required(value) or length(value, 1, 255)
    if err is None and not is_email(value):
        err = FieldError("validation_is_email", "Must be a valid email address.")
    return err


def check(errors: dict[str, FieldError | None], message: str = VALIDATION_MESSAGE) -> None:
    """Raise the collected field errors, if any."""
    found = {key: err for key, err in errors.items() if err is not None}
    if found:
        raise ValidationFailed(message, found)


async def find_by_email(app: App, coll: Collection, email: str) -> Record | None:
    """The auth record with ``email`` (case-insensitive), if any."""
    codec = codec_for(coll, app.dialect)
    sql = f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE LOWER("_r"."email") = LOWER(:e) LIMIT 1'
    row = await app.db.fetch_one(sql, {"e": email})
    return codec.decode(row) if row else None


def caller_record(coll: Collection, info: RequestInfo) -> Record:
    """The authenticated record of ``coll`` making the request (401 for guests, 403 for others)."""
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if info.auth_collection.id != coll.id:
        raise Forbidden(f"The request requires auth record from {coll.name} collection.")
    return info.auth


def random_password() -> str:
    """A password nobody knows: the guard PocketBase applies after passwordless verification."""
    return secrets.token_urlsafe(30)[:40]


async def save_as_system(app: App, coll: Collection, record: Record, patch: dict[str, Any], failure: str) -> Record:
    """Update ``record`` at the model level as Roost itself (no request, hooks fire); its field
    errors are re-raised under the flow's own ``failure`` message."""
    try:
        return await save_changes(app, coll, record["id"], patch)
    except ValidationFailed as exc:
        raise BadRequest(failure, exc.data) from exc


def expired(row: Record, seconds: int) -> bool:
    created = parse_datetime(row.get("created"))
    return created is None or created + timedelta(seconds=seconds) <= datetime.now(UTC)


def cutoff(seconds: int) -> str:
    """The ``created`` value before which a row of that lifetime has expired."""
    return format_datetime(datetime.now(UTC) - timedelta(seconds=seconds))
