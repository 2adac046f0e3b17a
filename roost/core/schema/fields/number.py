"""The ``number`` field type (a float64, as in PocketBase)."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    go_float_str,
    go_number,
    register,
    required_error,
)

# Go's strconv.ParseFloat syntax: decimal with optional exponent and "_" separators, hex floats,
# and inf/infinity/nan in any case. Leading/trailing spaces are not allowed.
_DECIMAL = re.compile(r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?")
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*[pP][+-]?\d+")


def parse_go_float(text: str) -> float:
    """``cast.ToFloat64`` of a string: the parsed value, or 0 when invalid or out of range."""
    try:
        if _DECIMAL.fullmatch(text) or _SPECIAL.fullmatch(text):
            value = float(text.replace("_", ""))
        elif _HEX.fullmatch(text):
            value = float.fromhex(text.replace("_", ""))
        else:
            return 0.0
    except (ValueError, OverflowError):
        return 0.0
    if math.isinf(value) and not _SPECIAL.fullmatch(text):
        return 0.0  # ParseFloat reports a range error; cast then yields 0
    return value


def to_float(raw: Any) -> float:
    """Cast a client value to float like Go's ``cast.ToFloat64`` (bools are 0/1, junk is 0)."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        try:
            return float(raw)
        except OverflowError:
            return 0.0
    if isinstance(raw, str):
        return parse_go_float(raw)
    return 0.0


@register
class NumberField(Field):
    """A float64 number; ``min``/``max`` are optional (``None``) bounds."""

    type: ClassVar[str] = "number"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "NUMERIC DEFAULT 0 NOT NULL",
        "postgresql": "DOUBLE PRECISION DEFAULT 0 NOT NULL",
        "mysql": "DOUBLE NOT NULL DEFAULT 0",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"max": None, "min": None, "onlyInt": False, "required": False}
    MODIFIERS: ClassVar[frozenset[str]] = frozenset({"+", "-"})
    max: float | None
    min: float | None
    onlyInt: bool
    required: bool

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["min"] = None if self.min is None else go_number(self.min)
        out["max"] = None if self.max is None else go_number(self.max)
        return out

    def zero(self) -> int:
        return 0

    def coerce(self, raw: Any) -> int | float:
        return go_number(to_float(raw))

    def from_db(self, raw: Any) -> int | float:
        return go_number(to_float(raw))

    def to_db(self, value: Any) -> float:
        return to_float(value)

    def apply_modifier(self, current: Any, modifier: str, raw: Any) -> Any:
        """``field+`` adds and ``field-`` subtracts."""
        if modifier == "-":
            return go_number(to_float(current) - to_float(raw))
        return go_number(to_float(current) + to_float(raw))

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        number = to_float(value)
        if math.isinf(number) or math.isnan(number):
            return FieldError("validation_not_a_number", "The submitted number is not properly formatted.")
        if number == 0:
            return required_error() if self.required else None
        if self.onlyInt and not number.is_integer():
            return FieldError("validation_only_int_constraint", "Decimal numbers are not allowed.")
        if self.min is not None and number < self.min:
            return FieldError(
                "validation_min_number_constraint",
                f"Must be greater or equal than {go_float_str(self.min)}.",
                {"min": go_number(self.min)},
            )
        if self.max is not None and number > self.max:
            return FieldError(
                "validation_max_number_constraint",
                f"Must be less or equal than {go_float_str(self.max)}.",
                {"max": go_number(self.max)},
            )
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        int_error = FieldError("validation_only_int_constraint", "Decimal numbers are not allowed.")
        if self.onlyInt and self.min is not None and not float(self.min).is_integer():
            errors["min"] = int_error
        if self.onlyInt and self.max is not None and not float(self.max).is_integer():
            errors["max"] = int_error
        elif self.min is not None and self.max is not None and self.max != 0 and self.max < self.min:
            errors["max"] = FieldError(
                "validation_min_number_constraint",
                f"Must be greater or equal than {go_float_str(self.min)}.",
                {"min": go_number(self.min)},
            )
        return errors
