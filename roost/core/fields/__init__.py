"""Field types. Importing this package registers every built-in type."""

from __future__ import annotations

from roost.core.fields.base import (
    FIELD_TYPES,
    Field,
    ValidationContext,
    default_field_id,
    field_from_dict,
    register,
)

__all__ = [
    "FIELD_TYPES",
    "Field",
    "ValidationContext",
    "default_field_id",
    "field_from_dict",
    "register",
]
