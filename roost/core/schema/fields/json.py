"""The ``json`` field type."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    check_int_range,
    go_number,
    register,
    required_error,
)

DEFAULT_JSON_MAX_SIZE = 1 << 20
_EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})
_JSON_START = re.compile(r"[-0-9\"\[{]")
#: orjson writes at most 254 levels; deeper values fail ``validate`` as invalid JSON (a 400), so
#: normalising stops there instead of recursing into Python's stack limit (a 500)
_MAX_DEPTH = 255


def _normalise(value: Any, depth: int = 0) -> Any:
    # values decoded from a JSON body went through Go's float64, so 3.0 is written back as 3
    if isinstance(value, float):
        return go_number(value)
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, list):
        return [_normalise(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v, depth + 1) for k, v in value.items()}
    return value


@register
class JSONField(Field):
    """Any JSON value; the zero value is ``null``."""

    type: ClassVar[str] = "json"
    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "JSON DEFAULT NULL",
        "postgresql": "JSONB DEFAULT NULL",
        "mysql": "LONGTEXT NULL",  # JSON as written, like SQLite (not normalised)
    }
    json_column: ClassVar[bool] = True
    OPTIONS: ClassVar[dict[str, Any]] = {"maxSize": 0, "required": False}
    maxSize: int
    required: bool

    def effective_max_size(self) -> int:
        """The byte limit of the serialised value (0 means 1 MiB)."""
        return self.maxSize if self.maxSize > 0 else DEFAULT_JSON_MAX_SIZE

    def zero(self) -> None:
        return None

    def coerce(self, raw: Any) -> Any:
        """Strings are decoded when they look like JSON, as PocketBase does for JSON and form
        bodies alike: ``"true"``/``"false"``/``"null"``, numbers, ``"..."``, arrays and objects
        become JSON; any other string (including ``""``) stays a string.
        """
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if isinstance(raw, str):
            if raw in ("true", "false", "null") or (raw and _JSON_START.match(raw)):
                try:
                    return orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return raw
            return raw
        return _normalise(raw)

    def to_db(self, value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def from_db(self, raw: Any) -> Any:
        if isinstance(raw, bytes | bytearray | memoryview):
            raw = bytes(raw).decode()
        if isinstance(raw, str):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                return raw
        return raw

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        try:
            encoded = orjson.dumps(value)
        except TypeError:
            return FieldError("validation_invalid_json", "Must be a valid json value.")
        limit = self.effective_max_size()
        if len(encoded) > limit:
            return FieldError(
                "validation_json_size_limit",
                f"The maximum allowed JSON size is {limit} bytes.",
                {"maxSize": limit},
            )
        if self.required and any(value == empty and type(value) is type(empty)
                                 for empty in _EMPTY_VALUES):
            return required_error()
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        err = check_int_range(self.maxSize, 0)
        if err is not None:
            errors["maxSize"] = err
        return errors
