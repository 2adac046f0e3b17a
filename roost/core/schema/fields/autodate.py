"""The ``autodate`` field type (``created``/``updated`` style timestamps)."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import Field, FieldCollection, register
from roost.core.schema.fields.date import normalize_datetime, now_string, stored_datetime


@register
class AutodateField(Field):
    """A datetime stamped by the server on create and/or update; client input is ignored.

    The records pipeline calls :meth:`stamp` before validation. Unlike other types, PocketBase
    outputs no ``help`` and no ``required`` key for autodate fields.
    """

    type: ClassVar[str] = "autodate"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "TEXT DEFAULT '' NOT NULL",
        "postgresql": "TEXT DEFAULT '' NOT NULL",
        "mysql": "VARCHAR(32) NOT NULL DEFAULT ''",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"onCreate": False, "onUpdate": False}
    onCreate: bool
    onUpdate: bool

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("help", None)
        return out

    def coerce(self, raw: Any) -> str:
        return normalize_datetime(raw)

    def from_db(self, raw: Any) -> str:
        return stored_datetime(raw)

    def accepts_client_value(self) -> bool:
        """Client-submitted values are always dropped for autodate fields."""
        return False

    def stamp(self, current: Any, is_new: bool, now: str | None = None) -> str:
        """The value to store for a create (``is_new``) or update of a record."""
        if (is_new and self.onCreate) or (not is_new and self.onUpdate):
            return now or now_string()
        return normalize_datetime(current)

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        if not self.onCreate and not self.onUpdate:
            message = "Either onCreate or onUpdate must be enabled."
            errors["onCreate"] = FieldError("validation_required", message)
            errors["onUpdate"] = FieldError("validation_required", message)
        return errors
