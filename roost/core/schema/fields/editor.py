"""The ``editor`` (rich text / HTML) field type."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    check_int_range,
    go_string,
    register,
    required_error,
)

DEFAULT_EDITOR_MAX_SIZE = 5 << 20


@register
class EditorField(Field):
    """HTML content; ``maxSize`` (bytes, 0 = 5 MiB) bounds the UTF-8 size."""

    type: ClassVar[str] = "editor"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "TEXT DEFAULT '' NOT NULL",
        "postgresql": "TEXT DEFAULT '' NOT NULL",
        "mysql": "LONGTEXT NOT NULL",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"convertURLs": False, "maxSize": 0, "required": False}
    convertURLs: bool
    maxSize: int
    required: bool

    def effective_max_size(self) -> int:
        """The byte limit applied to values (and usable for request body limits)."""
        return self.maxSize if self.maxSize > 0 else DEFAULT_EDITOR_MAX_SIZE

    def coerce(self, raw: Any) -> str:
        return go_string(raw)

    def from_db(self, raw: Any) -> str:
        return go_string(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        text = go_string(value)
        if not text:
            return required_error() if self.required else None
        limit = self.effective_max_size()
        if len(text.encode()) > limit:
            return FieldError(
                "validation_content_size_limit",
                f"The maximum allowed content size is {limit} bytes.",
                {"maxSize": limit},
            )
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        err = check_int_range(self.maxSize, 0)
        if err is not None:
            errors["maxSize"] = err
        return errors
