"""The auth sections of the settings (``superuserIPs``, ``roostAuth.passwordHash``,
``roostAuth.loginThrottle``): their defaults and field checks, with no I/O, so the settings
store validates them without depending on the auth services that read them."""

from __future__ import annotations

from typing import Any, TypeGuard

from roost.tools.ratelimit.rules import is_ip_or_subnet
from roost.tools.security.passwords import Argon2Params

ALGORITHMS = ("bcrypt", "argon2id")


def default_password_hash() -> dict[str, Any]:
    params = Argon2Params()
    return {
        "algorithm": "bcrypt",
        "argon2TimeCost": params.time_cost,
        "argon2MemoryCost": params.memory_cost,
        "argon2Parallelism": params.parallelism,
    }


def validate_password_hash(section: Any) -> dict[str, Any]:
    """Field problems of a ``roostAuth.passwordHash`` section (PocketBase's error shape)."""
    if not isinstance(section, dict):
        return {}
    errors: dict[str, Any] = {}
    if section.get("algorithm") not in ALGORITHMS:
        errors["algorithm"] = {"code": "validation_in_invalid", "message": "Must be a valid value."}
    minimums = {"argon2TimeCost": 1, "argon2MemoryCost": 8 * 1024, "argon2Parallelism": 1}
    for key, low in minimums.items():
        value = section.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            errors[key] = {
                "code": "validation_min_greater_equal_than_required",
                "message": f"Must be no less than {low}.",
                "params": {"threshold": low},
            }
    return errors


def default_login_throttle() -> dict[str, Any]:
    return {
        "enabled": True,
        "freeFailures": 5,
        "maxFailures": 10,
        "maxFailuresPerIP": 100,
        "window": 900,
        "slowdownMs": 250,
    }


def validate_login_throttle(section: Any) -> dict[str, Any]:
    """Field problems of a ``roostAuth.loginThrottle`` section (PocketBase's error shape)."""
    if not isinstance(section, dict):
        return {}
    errors: dict[str, Any] = {}
    if not isinstance(section.get("enabled"), bool):
        errors["enabled"] = {
            "code": "validation_invalid_value",
            "message": "Must be a valid boolean.",
        }
    minimums = {
        "freeFailures": 0,
        "maxFailures": 1,
        "maxFailuresPerIP": 1,
        "window": 1,
        "slowdownMs": 0,
    }
    for key, low in minimums.items():
        value = section.get(key)
        if not _is_int(value) or value < low:
            errors[key] = {
                "code": "validation_min_greater_equal_than_required",
                "message": f"Must be no less than {low}.",
                "params": {"threshold": low},
            }
    return errors


def ip_list_problems(value: Any) -> dict[str, dict[str, str]]:
    """Field problems of a ``superuserIPs`` list, keyed by index as PocketBase reports them."""
    problems: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(value if isinstance(value, list) else []):
        text = entry.strip() if isinstance(entry, str) else ""
        if not text:
            problems[str(index)] = {"code": "validation_required", "message": "Cannot be blank."}
        elif not is_ip_or_subnet(text):
            # (sic) the misspelt code is PocketBase's own
            problems[str(index)] = {"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."}
    return problems


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
