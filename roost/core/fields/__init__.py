"""Field types. Importing this package registers every built-in type."""

from __future__ import annotations

from roost.core.errors import FieldError
from roost.core.fields.autodate import AutodateField
from roost.core.fields.base import (
    FIELD_TYPES,
    Field,
    ValidationContext,
    default_field_id,
    field_from_dict,
    register,
)
from roost.core.fields.bool import BoolField
from roost.core.fields.date import DateField, normalize_datetime, now_string
from roost.core.fields.editor import EditorField
from roost.core.fields.email import EmailField
from roost.core.fields.file import FileField
from roost.core.fields.geopoint import GeoPointField
from roost.core.fields.json import JSONField
from roost.core.fields.number import NumberField
from roost.core.fields.password import PasswordField, PlainPassword
from roost.core.fields.relation import RelationField
from roost.core.fields.select import SelectField
from roost.core.fields.text import TextField
from roost.core.fields.url import URLField

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
