"""Validation of collection definitions before they are saved (PocketBase's codes and wording).

A mixin of :class:`~roost.core.collections.store.CollectionStore`: it reads the store's cache
(``_by_id``, ``_by_name``) and its ``rule_validator``, and never writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from roost.core.collections import sync as schema_sync
from roost.core.collections.search import search_errors
from roost.core.collections.views import infer_fields
from roost.core.errors import FieldError, ValidationFailed
from roost.core.schema.auth_options import (
    mfa_option_errors,
    passkey_option_errors,
    session_option_errors,
)
from roost.core.schema.collection import COLLECTION_TYPES, RULE_NAMES, VIEW, Collection
from roost.core.schema.fields import Field
from roost.core.schema.fields.base import FIELD_RULES
from roost.core.schema.fields.relation import (
    CHANGED_COLLECTION_ERROR,
    MISSING_COLLECTION_ERROR,
    VIEW_TARGET_ERROR,
)
from roost.core.schema.oauth2_options import prepare_oauth2_options
from roost.core.schema.superuser_roles import superuser_roles_errors

NAME_RE = re.compile(r"^\w+$")
RESERVED_FIELD_NAMES = {"collectionId", "collectionName", "expand"}
#: validates one rule of a collection; returns an error message or None
RuleValidator = Callable[[Collection, str], "str | None"]


class CollectionValidation:
    """Checks a complete (built) collection definition; raises ValidationFailed."""

    _by_id: dict[str, Collection]
    _by_name: dict[str, Collection]
    rule_validator: RuleValidator | None

    def get(self, name_or_id: str) -> Collection | None:  # provided by the store
        raise NotImplementedError

    def validate(self, coll: Collection, existing: Collection | None) -> None:
        errors: dict[str, Any] = {}
        if not coll.name:
            errors["name"] = FieldError("validation_required", "Cannot be blank.")
        elif not NAME_RE.match(coll.name) or len(coll.name) > 255:
            errors["name"] = FieldError("validation_match_invalid", "Must be in a valid format.")
        else:
            other = self._by_name.get(coll.name.lower())
            if other is not None and (existing is None or other.id != coll.id):
                errors["name"] = FieldError(
                    "validation_collection_name_exists", "Collection name must be unique (case insensitive)."
                )
            elif existing is not None and existing.system and existing.name != coll.name:
                errors["name"] = FieldError("validation_collection_system_name_change", "System collection name cannot be changed.")
        if coll.type not in COLLECTION_TYPES:
            errors["type"] = FieldError("validation_in_invalid", "Must be a valid value.")
        elif coll.type == VIEW:
            view_error = self._prepare_view(coll)
            if view_error is not None:
                errors["viewQuery"] = view_error
        if existing is None and coll.id in self._by_id and "name" not in errors:
            # a default id derives from the name, so a taken name is reported on `name` alone
            errors["id"] = FieldError("validation_invalid_or_existing_id", "The model id is invalid or already exists.")
        elif existing is None and coll.id and not re.match(r"^\w+$", coll.id):
            errors["id"] = FieldError("validation_match_invalid", "Must be in a valid format.")
        field_errors = self._validate_fields(coll, existing)
        if field_errors:
            errors["fields"] = field_errors
        if coll.is_auth:
            oauth2_errors = prepare_oauth2_options(coll, existing)
            if oauth2_errors:
                errors["oauth2"] = oauth2_errors
        index_errors = {str(i): FieldError("validation_invalid_index_expression", "Invalid CREATE INDEX expression.")
                        for i, stmt in enumerate(coll.indexes) if not self._index_ok(stmt, coll)}  # fmt: skip
        if index_errors:
            errors["indexes"] = index_errors
        errors.update(search_errors(coll))
        errors.update(superuser_roles_errors(coll))
        if not errors:
            errors.update(self._validate_rules(coll))
        if coll.is_auth and not errors:
            errors.update(mfa_option_errors(coll.options))
            errors.update(passkey_option_errors(coll.options))
            errors.update(session_option_errors(coll.options))
        if errors:
            raise ValidationFailed("Failed to create collection." if existing is None else "Failed to update collection.", errors)

    def _prepare_view(self, coll: Collection) -> FieldError | None:
        """Infer a view's fields from its query; only list and view rules apply to views."""
        for rule in ("createRule", "updateRule", "deleteRule"):
            coll.rules[rule] = None
        query = coll.options.get("viewQuery")
        if not isinstance(query, str) or not query.strip():
            return FieldError("validation_required", "Cannot be blank.")
        fields, error = infer_fields(self.get, query)
        if error is None:
            # a column keeps the id it was given or had (a replayed migration, an update), not a fresh random one
            given = {f.name: f.id for f in coll.fields if f.id}
            for field in fields:
                if field.id.startswith("_clone_") and given.get(field.name):
                    field.id = given[field.name]
            coll.fields = fields
            coll.reindex_fields()
            coll.indexes = []
        return error

    def _validate_fields(self, coll: Collection, existing: Collection | None) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        seen_names: set[str] = set()
        seen_ids: set[str] = set()
        old_ids = {f.id: f for f in existing.fields} if existing else {}
        for i, field in enumerate(coll.fields):
            err: dict[str, Any] = {}
            if not field.name:
                err["name"] = FieldError("validation_required", "Cannot be blank.")
            elif field.name in RESERVED_FIELD_NAMES:
                err["name"] = FieldError("validation_not_in_invalid", "Must not be in list.")
            elif not NAME_RE.match(field.name) or field.name.lower() in seen_names or field.id in seen_ids:
                err["name"] = FieldError(
                    "validation_duplicated_field_name",
                    f"Duplicated or invalid field name {field.name}.",
                    {"fieldName": field.name},
                )
            old = old_ids.get(field.id)
            if old is not None and old.type != field.type:
                err["type"] = FieldError("validation_field_type_change", "Field type cannot be changed.")
            if not err:
                err.update(field.validate_definition(coll))
            if not err and field.type == "relation":
                err.update(self._relation_errors(coll, field, old))
            if err:
                errors[str(i)] = err
            seen_names.add(field.name.lower())
            seen_ids.add(field.id)
        if existing is not None:
            for old in existing.fields:
                if old.system and not any(f.id == old.id for f in coll.fields):
                    errors.setdefault("fields", FieldError("validation_system_field_change", "System fields cannot be removed."))
        return errors

    def _relation_errors(self, coll: Collection, field: Field, old: Field | None) -> dict[str, FieldError]:
        target_id = str(getattr(field, "collectionId", "") or "")
        target = coll if target_id == coll.id else self._by_id.get(target_id)
        if target is None:
            return {"collectionId": FieldError(*MISSING_COLLECTION_ERROR)}
        if old is not None and getattr(old, "collectionId", "") != target_id:
            return {"collectionId": FieldError(*CHANGED_COLLECTION_ERROR)}
        if target.is_view and not coll.is_view:
            return {"collectionId": FieldError(*VIEW_TARGET_ERROR)}
        return {}

    def _index_ok(self, statement: str, coll: Collection) -> bool:
        index = schema_sync.parse_index(statement)
        if index is None:
            return False
        names = set(coll.field_names())
        return all(col.name in names for col in index.columns)

    def _validate_rules(self, coll: Collection) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        names = list(RULE_NAMES) + (["authRule", "manageRule"] if coll.is_auth else [])
        for name in names:
            rule = coll.rule(name)
            if rule is None or rule == "":
                if name == "manageRule" and rule == "":
                    errors[name] = FieldError("validation_required", "Cannot be blank.")
                continue
            if not isinstance(rule, str):
                errors[name] = FieldError("validation_invalid_rule", "Invalid rule.")
                continue
            message = self.rule_validator(coll, rule) if self.rule_validator else None
            if message:
                errors[name] = FieldError("validation_invalid_rule", f"Invalid rule. Raw error: {message}.")
        field_errors = self._validate_field_rules(coll)
        if field_errors:
            errors["fields"] = field_errors
        return errors

    def _validate_field_rules(self, coll: Collection) -> dict[str, Any]:
        """Roost's ``readRule``/``writeRule`` field options use the record rule language."""
        errors: dict[str, Any] = {}
        for index, fld in enumerate(coll.fields):
            bad: dict[str, FieldError] = {}
            for name in FIELD_RULES:
                rule = getattr(fld, name)
                message = self.rule_validator(coll, rule) if rule and self.rule_validator else None
                if message:
                    bad[name] = FieldError("validation_invalid_rule", f"Invalid rule. Raw error: {message}.")
            if bad:
                errors[str(index)] = bad
        return errors

