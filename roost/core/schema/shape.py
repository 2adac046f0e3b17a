"""The JSON shape of a submitted collection: each known key must hold a value of its type.

PocketBase decodes a collection body into typed structs, so a key of the wrong JSON type (a
rule that is a number, ``"system": "x"``, an option block whose ``duration`` is a string)
fails the whole body with "Failed to load the submitted data due to invalid formatting."
before any field-level validation. Roost checks the same shape up front. ``null`` is accepted
everywhere (it leaves the default), as are unknown keys.
"""

from __future__ import annotations

from typing import Any

#: a shape is a Python type, a ``[shape]`` list of items, or a ``{key: shape}`` object
Shape = Any

_STR_LIST: Shape = [str]
_TEMPLATE: Shape = {"subject": str, "body": str}
_TOKEN: Shape = {"secret": str, "duration": int}

_COMMON: dict[str, Shape] = {
    "id": str, "name": str, "type": str, "system": bool, "indexes": _STR_LIST, "viewQuery": str,
    **{rule: str for rule in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")},
}  # fmt: skip

_AUTH: dict[str, Shape] = {
    "authRule": str,
    "manageRule": str,
    "authAlert": {"enabled": bool, "emailTemplate": _TEMPLATE},
    "oauth2": {
        "enabled": bool,
        "mappedFields": {"id": str, "name": str, "username": str, "avatarURL": str},
        "providers": [dict],
    },
    "passwordAuth": {"enabled": bool, "identityFields": _STR_LIST},
    "mfa": {"enabled": bool, "duration": int, "rule": str},
    "otp": {"enabled": bool, "duration": int, "length": int, "emailTemplate": _TEMPLATE},
    **{name: _TOKEN for name in ("authToken", "passwordResetToken", "emailChangeToken", "verificationToken", "fileToken")},
    **{name: _TEMPLATE for name in ("verificationTemplate", "resetPasswordTemplate", "confirmEmailChangeTemplate")},
}

_SHAPES = {**_COMMON, **_AUTH}


def _fits(value: Any, shape: Shape) -> bool:
    if value is None:
        return True
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(_fits(value.get(k), s) for k, s in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and all(item is not None and _fits(item, shape[0]) for item in value)
    if shape is int:
        # only a JSON integer literal: ``5.0``, ``5e0`` and ``true`` do not decode into one
        return isinstance(value, int) and not isinstance(value, bool)
    if shape is bool:
        return isinstance(value, bool)
    return isinstance(value, shape)


def is_well_formed(data: dict[str, Any]) -> bool:
    """True when every known key of ``data`` (a collection body) has a value of its JSON type."""
    # the auth keys are checked on every type: PocketBase decodes them for base and view too
    return all(_fits(data.get(key), shape) for key, shape in _SHAPES.items() if key in data)


_ZERO = {int: 0, str: "", bool: False}


def _zero_nulls(value: Any, shape: Shape) -> Any:
    if not isinstance(shape, dict) or not isinstance(value, dict):
        return value
    return {k: (_ZERO[shape[k]] if v is None and shape.get(k) in _ZERO else _zero_nulls(v, shape.get(k))) for k, v in value.items()}


def with_zeroed_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """``null`` inside an option block sets that scalar to its zero value, as PocketBase's decoding does."""
    return {k: _zero_nulls(v, _AUTH[k]) if k in _AUTH and isinstance(_AUTH[k], dict) else v for k, v in data.items()}
