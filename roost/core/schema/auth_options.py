"""Checks of an auth collection's options blocks (MFA, cookie sessions, passkeys): pure
functions of the options, run by collection validation; the auth services read the same
constants."""

from __future__ import annotations

from typing import Any, TypeGuard
from urllib.parse import urlsplit

from roost.core.errors import FieldError

#: the auth options that count as methods; MFA needs two of them
AUTH_METHOD_OPTIONS = ("passwordAuth", "oauth2", "otp", "totp", "passkey")


def enabled_methods(options: dict[str, Any]) -> int:
    return sum(1 for key in AUTH_METHOD_OPTIONS if (options.get(key) or {}).get("enabled"))


def mfa_option_errors(options: dict[str, Any]) -> dict[str, Any]:
    """Collection validation: MFA only makes sense with two methods to combine."""
    if (options.get("mfa") or {}).get("enabled") and enabled_methods(options) < 2:
        return {"mfa": {"enabled": FieldError("validation_mfa_not_enough_auths", "MFA requires at least 2 auth methods to be enabled.")}}
    return {}


#: the collection option block: {"enabled": bool, "duration": seconds}
SESSION_OPTION = "cookieSessions"
DEFAULT_SESSION_DURATION = 14 * 86400
MIN_SESSION_DURATION = 60
#: browsers cap a cookie's lifetime at 400 days
MAX_SESSION_DURATION = 400 * 86400


def valid_session_duration(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_SESSION_DURATION <= value <= MAX_SESSION_DURATION


def session_option_errors(options: dict[str, Any]) -> dict[str, Any]:
    """Collection validation of the ``cookieSessions`` block."""
    block = options.get(SESSION_OPTION)
    if block is None:
        return {}
    if not isinstance(block, dict):
        return {SESSION_OPTION: FieldError("validation_invalid_value", "Must be an object.")}
    errors: dict[str, Any] = {}
    if not isinstance(block.get("enabled", False), bool):
        errors["enabled"] = FieldError("validation_invalid_value", "Must be a boolean.")
    if "duration" in block and not valid_session_duration(block["duration"]):
        errors["duration"] = FieldError(
            "validation_invalid_value", f"Must be a whole number of seconds from {MIN_SESSION_DURATION} to {MAX_SESSION_DURATION}."
        )
    return {SESSION_OPTION: errors} if errors else {}


def web_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.hostname else ""


def passkey_option_errors(coll_options: dict[str, Any]) -> dict[str, Any]:
    """Collection validation of the Roost-only ``passkey`` options block."""
    opts = coll_options.get("passkey")
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        return {"passkey": FieldError("validation_invalid_passkey_options", "Must be an object.")}
    errors: dict[str, Any] = {}
    if not isinstance(opts.get("enabled", False), bool):
        errors["enabled"] = FieldError("validation_invalid_bool", "Must be a boolean.")
    for key in ("rpId", "rpName"):
        if not isinstance(opts.get(key, ""), str):
            errors[key] = FieldError("validation_invalid_string", "Must be a string.")
    for key, check in (("origins", web_origin), ("identityFields", str)):
        values = opts.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and check(v) for v in values):
            errors[key] = FieldError("validation_invalid_list", "Must be a list of valid values.")
    return {"passkey": errors} if errors else {}

