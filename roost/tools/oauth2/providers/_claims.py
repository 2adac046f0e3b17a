"""Helpers shared by provider modules: reading loosely typed provider JSON."""

from __future__ import annotations

from typing import Any

from roost.tools.oauth2.errors import ProviderError


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProviderError("provider answered with a non-object user")
    return value


def text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def truthy(value: Any) -> bool:
    """Providers send booleans as true, "true" or 1."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "t", "yes")
    return value is True or value == 1


def require_id(user_id: str) -> str:
    if not user_id:
        raise ProviderError("provider user without an id")
    return user_id


def string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return []


def nested(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The object at ``data[k1][k2]...`` ({} when any step is missing or not an object)."""
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, dict) else {}
    return data


def first_object(value: Any) -> dict[str, Any]:
    """The first element of a JSON array when it is an object ({} otherwise)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}
