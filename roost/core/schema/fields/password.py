"""The ``password`` field type.

A record holds the bcrypt hash. A client value is coerced to :class:`PlainPassword` (a ``str``
marker) so that validation checks length and pattern on the plain text; the records pipeline
then stores :meth:`PasswordField.hash` of it. The value is never output by the API.
"""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields._patterns import compile_go_regex, regex_error
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    check_int_range,
    go_string,
    register,
    required_error,
)
from roost.tools.security.passwords import MAX_COST, MIN_COST, hash_password, verify

MAX_PASSWORD_LENGTH = 71


class PlainPassword(str):
    """A password as submitted by a client (not yet hashed)."""

    __slots__ = ()


@register
class PasswordField(Field):
    """A bcrypt-hashed secret; ``cost`` 0 means bcrypt's default cost of 10."""

    type: ClassVar[str] = "password"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "TEXT DEFAULT '' NOT NULL",
        "postgresql": "TEXT DEFAULT '' NOT NULL",
        "mysql": "VARCHAR(255) NOT NULL DEFAULT ''",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {
        "cost": 0,
        "max": 0,
        "min": 0,
        "pattern": "",
        "required": False,
    }
    cost: int
    max: int
    min: int
    pattern: str
    required: bool

    def is_exported(self) -> bool:
        """Password values never appear in API output, whatever ``hidden`` says."""
        return False

    def coerce(self, raw: Any) -> PlainPassword:
        return PlainPassword(go_string(raw))

    def from_db(self, raw: Any) -> str:
        return go_string(raw)

    def to_db(self, value: Any) -> str:
        """Store a hash; a still-plain value is hashed here as a last resort."""
        if isinstance(value, PlainPassword):
            return self.hash(value) if value else ""
        return go_string(value)

    def hash(self, plain: str) -> str:
        """bcrypt-hash ``plain`` with this field's cost."""
        return hash_password(plain, self.cost)

    def verify(self, plain: str, hashed: str) -> bool:
        """True if ``plain`` matches the stored ``hashed`` value."""
        return verify(plain, hashed)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        if not value:
            return required_error() if self.required else None
        if not isinstance(value, PlainPassword):
            return None  # an already stored hash
        length = len(value)
        # PocketBase words these without params (unlike the text field)
        if length < self.min:
            return FieldError(
                "validation_min_text_constraint", f"Must be at least {self.min} character(s)."
            )
        limit = self.max if self.max > 0 else MAX_PASSWORD_LENGTH
        if length > limit:
            return FieldError(
                "validation_max_text_constraint", f"Must be less than {limit} character(s)."
            )
        if self.pattern:
            compiled = compile_go_regex(self.pattern)
            if compiled is None or not compiled.search(value):
                return FieldError("validation_invalid_format", "Invalid value format.")
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        for key, err in (
            ("min", check_int_range(self.min, 1, MAX_PASSWORD_LENGTH)),
            ("max", check_int_range(self.max, self.min, MAX_PASSWORD_LENGTH)),
            ("cost", check_int_range(self.cost, MIN_COST, MAX_COST)),
            ("pattern", regex_error(self.pattern) if self.pattern else None),
        ):
            if err is not None:
                errors[key] = err
        return errors
