from __future__ import annotations

from typing import Any

from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field, ValidationContext, field_from_dict


def make(data: dict[str, Any]) -> Field:
    return field_from_dict({"name": "f", **data})


def ctx(field: Field, original: dict[str, Any] | None = None) -> ValidationContext:
    coll = Collection(id="pbc_1", name="c", fields=[field])
    return ValidationContext(collection=coll, record={}, original=original, is_new=original is None)


def err(field: Field, value: Any, original: dict[str, Any] | None = None) -> dict[str, Any] | None:
    e = field.validate(value, ctx(field, original))
    return None if e is None else e.as_dict()


def definition_errors(field: Field) -> dict[str, Any]:
    from roost.core.errors import field_errors_to_data

    coll = Collection(id="pbc_1", name="c", fields=[field])
    return field_errors_to_data(dict(field.validate_definition(coll)))


