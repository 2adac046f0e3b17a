"""Superuser impersonation: a non-refreshable auth token for any auth record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.auth import tokens
from roost.core.auth.flows import auth_answer
from roost.core.errors import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.records.save import fetch_record
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App


async def impersonate(app: App, coll: Collection, record_id: str, body: dict[str, Any], info: RequestInfo) -> tuple[Record, str]:
    """Issue a token for ``record_id`` lasting ``body["duration"]`` seconds (0 = collection default)."""
    if info.auth is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if not info.is_superuser:
        raise Forbidden("The authorized record is not allowed to perform this action.")
    duration = body.get("duration", 0)
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
        raise ValidationFailed(
            "An error occurred while validating the submitted data.",
            {"duration": FieldError("validation_min_greater_equal_than_required", "Must be no less than 0.", {"threshold": 0})},
        )
    record = await fetch_record(app, coll, record_id)
    if record is None:
        raise NotFound()
    return await auth_answer(app, coll, record, info, tokens.issue(coll, record, duration=int(duration), refreshable=False))
