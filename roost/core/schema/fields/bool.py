"""The ``bool`` field type."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import Field, ValidationContext, register, required_error

# strconv.ParseBool's accepted spellings; anything else is false
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def to_bool(raw: Any) -> bool:
    """Cast like Go's ``cast.ToBool``: non-zero numbers and ParseBool's true strings are true."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return raw != 0
    if isinstance(raw, str):
        return raw in _TRUE
    return False


@register
class BoolField(Field):
    """A boolean; ``required`` means the value must be ``true``."""

    type: ClassVar[str] = "bool"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "BOOLEAN DEFAULT FALSE NOT NULL",
        "postgresql": "BOOLEAN DEFAULT FALSE NOT NULL",
        "mysql": "TINYINT(1) NOT NULL DEFAULT 0",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"required": False}
    required: bool

    def zero(self) -> bool:
        return False

    def coerce(self, raw: Any) -> bool:
        return to_bool(raw)

    def to_db(self, value: Any) -> bool:
        return to_bool(value)

    def from_db(self, raw: Any) -> bool:
        # SQLite and MySQL hand back 0/1
        return to_bool(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        if self.required and not to_bool(value):
            return required_error()
        return None
