"""Field types. Importing this package registers every built-in type."""

from __future__ import annotations

from roost.core.errors import FieldError
from roost.core.schema.fields.autodate import AutodateField
from roost.core.schema.fields.base import (
    FIELD_TYPES,
    Field,
    ValidationContext,
    default_field_id,
    field_from_dict,
    register,
)
from roost.core.schema.fields.bool import BoolField
from roost.core.schema.fields.date import DateField, normalize_datetime, now_string
from roost.core.schema.fields.editor import EditorField
from roost.core.schema.fields.email import EmailField
from roost.core.schema.fields.file import FileField
from roost.core.schema.fields.geopoint import GeoPointField
from roost.core.schema.fields.json import JSONField
from roost.core.schema.fields.number import NumberField
from roost.core.schema.fields.password import PasswordField, PlainPassword
from roost.core.schema.fields.relation import RelationField
from roost.core.schema.fields.select import SelectField
from roost.core.schema.fields.text import TextField
from roost.core.schema.fields.url import URLField

__all__ = [
    "FIELD_TYPES",
    "AutodateField",
    "BoolField",
    "DateField",
    "EditorField",
    "EmailField",
    "Field",
    "FieldError",
    "FileField",
    "GeoPointField",
    "JSONField",
    "NumberField",
    "PasswordField",
    "PlainPassword",
    "RelationField",
    "SelectField",
    "TextField",
    "URLField",
    "ValidationContext",
    "default_field_id",
    "field_from_dict",
    "normalize_datetime",
    "now_string",
    "register",
]
