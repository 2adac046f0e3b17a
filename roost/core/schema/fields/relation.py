"""The ``relation`` field type.

Only the value shape and the count constraints are checked here. Whether the referenced
records exist (``validation_missing_rel_records``) and whether ``collectionId`` names an
existing collection are checked by the records pipeline and the collections layer, which have
database access; see :meth:`RelationField.validate_definition`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields._multi import MultiValueField
from roost.core.schema.fields.base import (
    FieldCollection,
    ValidationContext,
    min_threshold_error,
    register,
    required_error,
)

MISSING_RECORDS_ERROR = ("validation_missing_rel_records",
                         "Failed to find all relation records with the provided ids.")
MISSING_COLLECTION_ERROR = ("validation_field_relation_missing_collection",
                            "The relation collection doesn't exist.")
CHANGED_COLLECTION_ERROR = ("validation_field_relation_change",
                            "The relation collection cannot be changed.")
VIEW_TARGET_ERROR = ("validation_relation_field_non_view_base_collection",
                     "Only view collections are allowed to have relations to other views.")


@register
class RelationField(MultiValueField):
    """References to records of ``collectionId`` (one, or a list when ``maxSelect`` > 1)."""

    type: ClassVar[str] = "relation"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "cascadeDelete": False,
        "collectionId": "",
        "maxSelect": 0,
        "minSelect": 0,
        "required": False,
    }
    cascadeDelete: bool
    collectionId: str
    maxSelect: int
    minSelect: int
    required: bool

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        ids = self.values_of(value)
        if not ids:
            return required_error() if self.required else None
        if self.minSelect > 0 and len(ids) < self.minSelect:
            return FieldError(
                "validation_not_enough_values",
                f"Select at least {self.minSelect}.",
                {"minSelect": self.minSelect},
            )
        limit = self.effective_max_select()
        if len(ids) > limit:
            return FieldError(
                "validation_too_many_values",
                f"Select no more than {limit}.",
                {"maxSelect": limit},
            )
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        """Option checks that need no database.

        The caller must still report, on ``collectionId``: :data:`MISSING_COLLECTION_ERROR`
        when the target does not exist, :data:`CHANGED_COLLECTION_ERROR` when an existing
        field's target changes, and :data:`VIEW_TARGET_ERROR` for a non-view collection
        pointing at a view.
        """
        errors = super().validate_definition(collection)
        if not self.collectionId:
            errors["collectionId"] = required_error()
        if self.minSelect < 0:
            errors["minSelect"] = min_threshold_error(0)
        if self.minSelect > 0 and self.maxSelect == 0:
            errors["maxSelect"] = required_error()
        elif self.maxSelect < self.minSelect:
            errors["maxSelect"] = min_threshold_error(self.minSelect)
        return errors
