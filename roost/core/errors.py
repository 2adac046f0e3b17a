"""One error tree for the whole product.

Core raises these; only ``roost.apis.errors`` turns them into HTTP responses. Each error carries a
stable ``code``, a safe ``message`` and optional nested field ``data`` in PocketBase's shape
(``{field: {"code", "message", "params"?}}``).
"""

from __future__ import annotations

from typing import Any


class FieldError(Exception):
    """A single field validation failure, e.g. ``validation_required``."""

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.params is not None:
            out["params"] = self.params
        return out


def field_errors_to_data(errors: dict[str, Any]) -> dict[str, Any]:
    """Turn a (possibly nested) mapping of FieldError values into JSON-able data."""
    out: dict[str, Any] = {}
    for key, value in errors.items():
        if isinstance(value, FieldError):
            out[key] = value.as_dict()
        elif isinstance(value, dict):
            out[key] = field_errors_to_data(value)
        else:
            out[key] = value
    return out


class RoostError(Exception):
    """Base of every expected failure. ``kind`` maps to an HTTP status at the edge."""

    kind = "bad_request"
    default_message = "Something went wrong while processing your request."

    def __init__(self, message: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.data = field_errors_to_data(data or {})
        super().__init__(self.message)


class BadRequest(RoostError):
    kind = "bad_request"


class ValidationFailed(BadRequest):
    """Field validation errors; ``data`` maps field names to FieldErrors."""


class Unauthorized(RoostError):
    kind = "unauthorized"
    default_message = "Missing or invalid authentication."


class Forbidden(RoostError):
    kind = "forbidden"
    default_message = "You are not allowed to perform this request."


class NotFound(RoostError):
    kind = "not_found"
    default_message = "The requested resource wasn't found."


class TooManyRequests(RoostError):
    kind = "too_many_requests"
    default_message = "Too Many Requests."


class PayloadTooLarge(RoostError):
    kind = "payload_too_large"
    default_message = "Request entity too large."


class InternalError(RoostError):
    kind = "internal"


class ServiceUnavailable(RoostError):
    """A service Roost needs (the database, the cluster's broker) cannot be reached now; the
    edge answers 503 with ``Retry-After``."""

    kind = "unavailable"
    default_message = "The service is temporarily unavailable. Please try again later."
