"""The field protocol every field type implements, and the registry of field types.

A field type lives in its own module (``text.py``, ``number.py`` ...) and registers itself with
:func:`register`. Values move through a field in three forms:

* *raw*: what a client sent (JSON value, or a string from multipart/urlencoded);
* *value*: the normalised Python value held on a record (``str``, ``float``, ``bool``, ``list``,
  ``dict`` or ``None``), which is also what the API outputs;
* *db*: what the driver stores (:meth:`Field.to_db` / :meth:`Field.from_db`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from roost.core.errors import FieldError

if TYPE_CHECKING:
    from roost.core.collections import Collection

FIELD_TYPES: dict[str, type[Field]] = {}


def register(cls: type[Field]) -> type[Field]:
    """Class decorator: make a field type known by its ``type`` name."""
    FIELD_TYPES[cls.type] = cls
    return cls


def default_field_id(type_name: str, name: str) -> str:
    """PocketBase-compatible default field id: type + crc32(name)."""
    return f"{type_name}{zlib.crc32(name.encode())}"


@dataclass
class ValidationContext:
    """What a field may look at while validating one record."""

    collection: Collection
    record: dict[str, Any]
    original: dict[str, Any] | None  # stored values before this change (None on create)
    is_new: bool
    dialect: str = "sqlite"
    extras: dict[str, Any] = field(default_factory=dict)


class Field:
    """Base class of every field type.

    Subclasses declare ``type``, their options in ``OPTIONS`` (name -> default) and override the
    hooks they need. Common attributes: ``id``, ``name``, ``system``, ``hidden``, ``presentable``,
    ``help``.
    """

    type: ClassVar[str] = ""
    #: option name -> default value, in the order PocketBase outputs them
    OPTIONS: ClassVar[dict[str, Any]] = {}
    #: SQL column type per dialect family ("sqlite", "postgresql", "mysql")
    COLUMN: ClassVar[dict[str, str]] = {"sqlite": "TEXT", "postgresql": "TEXT", "mysql": "TEXT"}
    #: True if the stored value is a JSON document (json, multi select/relation/file, geoPoint)
    json_column: ClassVar[bool] = False

    def __init__(
        self,
        name: str = "",
        *,
        id: str = "",
        system: bool = False,
        hidden: bool = False,
        presentable: bool = False,
        help: str = "",
        **options: Any,
    ) -> None:
        self.name = name
        self.id = id or default_field_id(self.type, name)
        self.system = system
        self.hidden = hidden
        self.presentable = presentable
        self.help = help
        self.options: dict[str, Any] = {k: options.get(k, v) for k, v in self.OPTIONS.items()}
        for key, value in self.options.items():
            setattr(self, key, value)

    # ----- definition -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        known = {"name", "id", "system", "hidden", "presentable", "help", *cls.OPTIONS}
        kwargs = {k: v for k, v in data.items() if k in known and k != "type"}
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hidden": self.hidden,
            "id": self.id,
            "name": self.name,
            "presentable": self.presentable,
            "system": self.system,
            "type": self.type,
            "help": self.help,
        }
        for key in self.OPTIONS:
            out[key] = getattr(self, key)
        return out

    def validate_definition(self, collection: Collection) -> dict[str, FieldError]:
        """Check the field's options when a collection is saved; keys are option names."""
        return {}

    # ----- storage ----------------------------------------------------------------------------
    def column_type(self, dialect: str) -> str:
        return self.COLUMN.get(dialect, self.COLUMN["sqlite"])

    def is_multiple(self) -> bool:
        return False

    def zero(self) -> Any:
        return ""

    def to_db(self, value: Any) -> Any:
        return value

    def from_db(self, raw: Any) -> Any:
        return self.zero() if raw is None else raw

    # ----- record values ----------------------------------------------------------------------
    def coerce(self, raw: Any) -> Any:
        """Normalise a client value into this field's value form (never raises)."""
        return raw

    def apply_modifier(self, current: Any, modifier: str, raw: Any) -> Any:
        """Apply ``field+`` (``"+"``), ``+field`` (``"^"``) or ``field-`` (``"-"``).

        The default ignores the modifier and sets the value.
        """
        return self.coerce(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        """Validate a coerced value; return the first error or None."""
        return None


def field_from_dict(data: dict[str, Any]) -> Field:
    """Build a field of the registered type named by ``data["type"]``."""
    type_name = data.get("type", "")
    cls = FIELD_TYPES.get(type_name)
    if cls is None:
        raise KeyError(type_name)
    return cls.from_dict(data)


FieldFactory = Callable[[dict[str, Any]], Field]
