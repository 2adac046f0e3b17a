"""The field protocol every field type implements, and the registry of field types.

A field type lives in its own module (``text.py``, ``number.py`` ...) and registers itself with
:func:`register`. Values move through a field in three forms:

* *raw*: what a client sent (JSON value, or a string from multipart/urlencoded);
* *value*: the normalised Python value held on a record (``str``, ``float``, ``bool``, ``list``,
  ``dict`` or ``None``), which is also what the API outputs;
* *db*: what the driver stores (:meth:`Field.to_db` / :meth:`Field.from_db`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import orjson

from roost.core.errors import FieldError

FIELD_TYPES: dict[str, type[Field]] = {}


class FieldCollection(Protocol):
    """What a field sees of its collection (:class:`roost.core.schema.collection.Collection`)."""

    fields: list[Field]


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

    collection: FieldCollection
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
    #: the key modifiers a client body may use on this field type: ``"+"`` (``field+``), ``"^"``
    #: (``+field``), ``"-"`` (``field-``), ``"autogenerate"`` (``field:autogenerate``). A body key
    #: with any other modifier is ignored, as PocketBase finds no setter for it; this is what keeps
    #: ``verified+`` or ``password-`` from reaching a field that only takes plain values.
    MODIFIERS: ClassVar[frozenset[str]] = frozenset()

    #: option names whose JSON type was wrong when loaded (see :meth:`from_dict`)
    load_errors: list[str]

    def __init__(
        self,
        name: str = "",
        *,
        id: str = "",
        system: bool = False,
        hidden: bool = False,
        presentable: bool = False,
        help: str = "",
        readRule: str | None = None,
        writeRule: str | None = None,
        **options: Any,
    ) -> None:
        self.name = name
        self.id = id or default_field_id(self.type, name)
        self.system = system
        self.hidden = hidden
        self.presentable = presentable
        self.help = help
        #: Roost's field rules (None: no restriction); output only when set, so collections
        #: without them keep PocketBase's exact field JSON (see docs/roles.md)
        self.readRule = readRule
        self.writeRule = writeRule
        self.options: dict[str, Any] = {k: options.get(k, v) for k, v in self.OPTIONS.items()}
        for key, value in self.options.items():
            setattr(self, key, value)
        self.load_errors = []

    # ----- definition -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        """Build a field from client/stored JSON without ever raising.

        ``null`` means the default (as Go's JSON decoding leaves the zero value). A value of the
        wrong JSON type is replaced by the default and its key recorded in ``load_errors``;
        PocketBase rejects such a body as a whole with 400 "Failed to load the submitted data due
        to invalid formatting." and empty ``data``, so the collections layer should check
        ``load_errors`` before reporting :meth:`validate_definition` errors.
        """
        specs = {**_COMMON_SPECS, **{k: _spec_of(v) for k, v in cls.OPTIONS.items()}}
        kwargs: dict[str, Any] = {}
        bad: list[str] = []
        for key, value in data.items():
            if key not in specs or key == "type" or value is None:
                continue
            if _matches(specs[key], value):
                kwargs[key] = _normalise_option(specs[key], value)
            else:
                bad.append(key)
        field_obj = cls(**kwargs)
        field_obj.load_errors = bad
        return field_obj

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
        for key in FIELD_RULES:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        """Check the field's options when a collection is saved; keys are option names.

        The base checks ``id`` and ``name`` as every PocketBase field type does; subclasses
        extend the returned mapping.
        """
        return common_definition_errors(self)

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
        """Apply one of :attr:`MODIFIERS`: ``field+`` (``"+"``), ``+field`` (``"^"``) or ``field-`` (``"-"``).

        Only called for a modifier the type declares; the default sets the value.
        """
        return self.coerce(raw)

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        """Validate a coerced value; return the first error or None."""
        return None

    def autogenerate(self) -> Any | None:
        """A fresh value for an empty field on create (text ``autogeneratePattern``), or None."""
        return None


# ----- option loading helpers -----------------------------------------------------------------
# spec kinds: "bool", "int", "float", "nfloat" (nullable float), "str", "strs" (list of str)
_COMMON_SPECS = {
    "name": "str",
    "id": "str",
    "system": "bool",
    "hidden": "bool",
    "presentable": "bool",
    "help": "str",
    "readRule": "str",
    "writeRule": "str",
}

#: Roost's per-field access rules (field options next to the type's own)
FIELD_RULES = ("readRule", "writeRule")


def _spec_of(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float) or default is None:
        return "nfloat"
    if isinstance(default, list):
        return "strs"
    return "str"


def _matches(spec: str, value: Any) -> bool:
    # mirrors Go's encoding/json strictness: no cross-type coercion, ints must be integral
    if spec == "bool":
        return isinstance(value, bool)
    if spec == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec == "nfloat":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if spec == "strs":
        return isinstance(value, list) and all(isinstance(v, str) or v is None for v in value)
    return isinstance(value, str)


def _normalise_option(spec: str, value: Any) -> Any:
    if spec == "nfloat":
        return float(value)
    if spec == "strs":
        return ["" if v is None else v for v in value]
    return value


# ----- shared value helpers ----------------------------------------------------------------------
def sentenize(message: str) -> str:
    """PocketBase's message normalisation: trim, upper-case the first letter, end with a period."""
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text


def go_number(value: float) -> int | float:
    """Return ``value`` as Go's JSON encoder would print it: integral floats as ints (below 2**63).

    ``repr`` is used so that e.g. ``2.0**60`` becomes ``1152921504606847000`` (Go prints the
    shortest round-trip digits padded with zeros), not ``1152921504606846976``.
    """
    if -_EXACT < value < _EXACT:  # the common case: int() of these is already Go's digits
        return int(value) if value == int(value) else value
    if value != value or value in (float("inf"), float("-inf")):
        return value
    if value == int(value) and abs(value) < _INT_LIMIT:
        return int(Decimal(repr(float(value))))
    return value


#: Go prints integral floats below 1e21 without an exponent; Roost does so below 2**63, as JSON
#: encoders (orjson) take integers of 64 bits only: ``1e20`` is answered as ``1e20``, the same number
_INT_LIMIT = 2.0**63
#: below this an integral float is an exact integer, whose shortest round-trip digits are its own
_EXACT = 2.0**53


def go_float_str(value: float) -> str:
    """Format a float like Go's ``%v``: shortest digits, exponent form when exp < -4 or >= 6."""
    if value == 0:
        return "0"
    dec = Decimal(repr(float(value)))
    exponent = dec.adjusted()
    if -4 <= exponent < 6:
        return _go_float_plain(float(value))
    sign, digit_tuple, _ = dec.normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def go_string(raw: Any) -> str:
    """Cast a client value to a string like Go's ``cast.ToString`` (lists/objects become "")."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _go_float_plain(raw)
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return ""


def _go_float_plain(value: float) -> str:
    # strconv.FormatFloat(f, 'f', -1, 64): shortest digits, never an exponent
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    out = format(Decimal(repr(value)), "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return out


def unique_strings(raw: Any) -> list[str]:
    """PocketBase's ``list.ToUniqueStringSlice``: non-empty unique strings in first-seen order.

    A string holding a JSON array of strings is decoded; any other string is one item. A list
    with an element that cannot be cast to a string (object or list) yields an empty result.
    """
    items: list[Any]
    if raw is None:
        items = []
    elif isinstance(raw, str):
        items = [raw] if raw else []
        if "[" in raw:
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list) and all(isinstance(v, str) for v in decoded):
                items = decoded
    elif isinstance(raw, list | tuple):
        if any(isinstance(v, list | tuple | dict) for v in raw):
            return []
        items = [go_string(v) for v in raw]
    elif isinstance(raw, dict):
        return []
    else:
        items = [go_string(raw)]
    seen: dict[str, None] = {}
    for item in items:
        if item and item not in seen:
            seen[item] = None
    return list(seen)


_NAME_RE = re.compile(r"^\w+$", re.ASCII)
_EXCLUDED_NAMES = ("null", "true", "false", "_rowid_", "collectionId", "collectionName", "expand")


def common_definition_errors(field_obj: Field) -> dict[str, FieldError]:
    """The ``id`` and ``name`` checks every PocketBase field type applies."""
    errors: dict[str, FieldError] = {}
    length_error = FieldError(
        "validation_length_out_of_range",
        "The length must be between 1 and 100.",
        {"min": 1, "max": 100},
    )
    if not field_obj.id:
        errors["id"] = FieldError("validation_required", "Cannot be blank.")
    elif len(field_obj.id) > 100:
        errors["id"] = length_error
    name = field_obj.name
    if not name:
        errors["name"] = FieldError("validation_required", "Cannot be blank.")
    elif len(name) > 100:
        errors["name"] = length_error
    elif not _NAME_RE.match(name):
        errors["name"] = FieldError("validation_match_invalid", "Must be in a valid format.")
    elif name in _EXCLUDED_NAMES:
        errors["name"] = FieldError("validation_not_in_invalid", "Must not be in list.")
    elif "_via_" in name.lower():
        errors["name"] = FieldError("validation_found_via", 'The value cannot contain "_via_".')
    return errors


def field_from_dict(data: dict[str, Any]) -> Field:
    """Build a field of the registered type named by ``data["type"]``."""
    type_name = data.get("type", "")
    cls = FIELD_TYPES.get(type_name)
    if cls is None:
        raise KeyError(type_name)
    return cls.from_dict(data)


FieldFactory = Callable[[dict[str, Any]], Field]


MAX_SAFE_JSON_INT = 2**53 - 1
REQUIRED_ERROR_CODE = "validation_required"


def required_error() -> FieldError:
    """PocketBase's ``validation_required`` "Cannot be blank." error."""
    return FieldError(REQUIRED_ERROR_CODE, "Cannot be blank.")


def min_threshold_error(threshold: Any, shown: str | None = None) -> FieldError:
    """ozzo-validation's ``Min`` rule failure, e.g. "Must be no less than 0."."""
    text = shown if shown is not None else str(threshold)
    return FieldError(
        "validation_min_greater_equal_than_required",
        f"Must be no less than {text}.",
        {"threshold": threshold},
    )


def max_threshold_error(threshold: Any, shown: str | None = None) -> FieldError:
    """ozzo-validation's ``Max`` rule failure, e.g. "Must be no greater than 2."."""
    text = shown if shown is not None else str(threshold)
    return FieldError(
        "validation_max_less_equal_than_required",
        f"Must be no greater than {text}.",
        {"threshold": threshold},
    )


def check_int_range(value: int, low: int, high: int = MAX_SAFE_JSON_INT) -> FieldError | None:
    """Apply ``validation.Min(low), validation.Max(high)`` to an integer option.

    Like ozzo-validation, a zero value is "empty" and skips both rules.
    """
    if value == 0:
        return None
    if value < low:
        return min_threshold_error(low)
    if value > high:
        return max_threshold_error(high)
    return None
