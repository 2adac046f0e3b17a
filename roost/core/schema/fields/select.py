"""The ``select`` field type."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields._multi import MultiValueField
from roost.core.schema.fields.base import (
    FieldCollection,
    ValidationContext,
    check_int_range,
    register,
    required_error,
    sentenize,
)


@register
class SelectField(MultiValueField):
    """One (``maxSelect`` <= 1) or several values out of ``values``."""

    type: ClassVar[str] = "select"
    OPTIONS: ClassVar[dict[str, Any]] = {"maxSelect": 0, "required": False, "values": []}
    maxSelect: int
    required: bool
    values: list[str]

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        items = self.values_of(value)
        if not items:
            return required_error() if self.required else None
        limit = self.effective_max_select()
        if len(items) > limit:
            return FieldError(
                "validation_too_many_values",
                f"Select no more than {limit}.",
                {"maxSelect": limit},
            )
        for item in items:
            if item not in self.values:
                return FieldError(
                    "validation_invalid_value",
                    sentenize(f"Invalid value {item}"),
                    {"value": item},
                )
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        if not self.values:
            errors["values"] = required_error()
        err = check_int_range(self.maxSelect, 0, max(len(self.values), 1))
        if err is not None:
            errors["maxSelect"] = err
        return errors
