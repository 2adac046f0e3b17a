"""The ``text`` field type, including the ``id`` primary key field."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields._patterns import (
    UnsupportedPattern,
    compile_go_regex,
    random_string_by_regex,
    regex_error,
)
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    check_int_range,
    go_string,
    register,
    required_error,
)

#: the pattern of PocketBase's default ``id`` field; other patterns get extra PK checks
DEFAULT_ID_PATTERN = "^[a-z0-9]+$"
DEFAULT_ID_AUTOGENERATE = "[a-z0-9]{15}"
DEFAULT_MAX_LENGTH = 5000

# characters that would make an id unsafe as a file/directory name (as PocketBase forbids)
_FORBIDDEN_PK_CHARS = (".", "/", "\\", "|", '"', "'", "`", "<", ">", ":", "?", "*", "%", "$",
                       "\x00", "\t", "\n", "\r", " ")
_RESERVED_PKS = ("CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                 *(f"LPT{i}" for i in range(1, 10)))


@register
class TextField(Field):
    """Plain string value; ``max`` 0 means PocketBase's default limit of 5000 characters."""

    type: ClassVar[str] = "text"
    MODIFIERS: ClassVar[frozenset[str]] = frozenset({"autogenerate"})
    OPTIONS: ClassVar[dict[str, Any]] = {
        "autogeneratePattern": "",
        "max": 0,
        "min": 0,
        "pattern": "",
        "primaryKey": False,
        "required": False,
    }
    autogeneratePattern: str
    max: int
    min: int
    pattern: str
    primaryKey: bool
    required: bool

    def column_type(self, dialect: str) -> str:
        if self.primaryKey:
            return {
                "postgresql": "TEXT PRIMARY KEY NOT NULL",
                "mysql": "VARCHAR(255) PRIMARY KEY NOT NULL",
            }.get(dialect, "TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL")
        # MySQL cannot default TEXT/BLOB columns before 8.0.13; the pipeline always writes them
        return "LONGTEXT NOT NULL" if dialect == "mysql" else "TEXT DEFAULT '' NOT NULL"

    def coerce(self, raw: Any) -> str:
        return go_string(raw)

    def from_db(self, raw: Any) -> str:
        return go_string(raw)

    # ----- autogenerate -------------------------------------------------------------------------
    def generate(self, prefix: str = "") -> str:
        """Return ``prefix`` plus a random value from ``autogeneratePattern`` (if set).

        Used on create when the value is empty, and by the ``field:autogenerate`` modifier.
        """
        if not self.autogeneratePattern:
            return prefix
        return prefix + random_string_by_regex(self.autogeneratePattern)

    def autogenerate(self) -> str | None:
        """Base-protocol hook used by the records pipeline (None when there is no pattern)."""
        return self.generate() if self.autogeneratePattern else None

    def needs_pk_uniqueness_check(self) -> bool:
        """True if a new id must be checked case-insensitively against existing rows.

        PocketBase does this (``validation_pk_invalid``) only for a custom id pattern; the
        records pipeline owns the query.
        """
        return self.primaryKey and self.pattern != DEFAULT_ID_PATTERN

    # ----- validation ---------------------------------------------------------------------------
    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        text = go_string(value)
        if self.primaryKey and not ctx.is_new:
            old = go_string((ctx.original or {}).get(self.name, ""))
            if old != text:
                return FieldError("validation_pk_change", "The record primary key cannot be changed.")
            if old:
                return None  # stored ids may predate the current rules (imports, migrations)
        return self.validate_plain(text)

    def validate_plain(self, text: str) -> FieldError | None:
        """Validate a string against required/min/max/pattern and the primary key rules."""
        if not text:
            return required_error() if self.required or self.primaryKey else None
        length = len(text)
        if self.min > 0 and length < self.min:
            return FieldError(
                "validation_min_text_constraint",
                f"Must be at least {self.min} character(s).",
                {"min": self.min},
            )
        limit = self.max or DEFAULT_MAX_LENGTH
        if limit > 0 and length > limit:
            return FieldError(
                "validation_max_text_constraint",
                f"Must be no more than {limit} character(s).",
                {"max": limit},
            )
        if self.pattern:
            compiled = compile_go_regex(self.pattern)
            if compiled is None or not compiled.search(text):
                return FieldError("validation_invalid_format", "Invalid value format.")
        if self.primaryKey and self.pattern != DEFAULT_ID_PATTERN:
            return _pk_characters_error(text)
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        pk = self.primaryKey
        if pk and self.name != "id" and "name" not in errors:
            errors["name"] = FieldError("validation_in_invalid", 'The primary key must be named "id".')
        if pk and sum(1 for f in collection.fields if isinstance(f, TextField) and f.primaryKey) > 1:
            errors["primaryKey"] = FieldError(
                "validation_unsupported_composite_pk",
                "Composite PKs are not supported and the collection must have only 1 PK.",
            )
        for key, err in (
            ("min", check_int_range(self.min, 0)),
            ("max", check_int_range(self.max, self.min)),
            ("pattern", required_error() if pk and not self.pattern else None),
            ("pattern", regex_error(self.pattern) if self.pattern else None),
            ("hidden", FieldError("validation_empty", "Must be blank.") if pk and self.hidden else None),
            ("required", required_error() if pk and not self.required else None),
            ("autogeneratePattern", self._autogenerate_error()),
        ):
            if err is not None and key not in errors:
                errors[key] = err
        return errors

    def _autogenerate_error(self) -> FieldError | None:
        pattern = self.autogeneratePattern
        if not pattern:
            return None
        bad_regex = regex_error(pattern)
        if bad_regex is not None:
            return bad_regex
        for _ in range(10):  # PocketBase samples 10 values against the field's own rules
            try:
                sample = random_string_by_regex(pattern)
            except UnsupportedPattern:
                return FieldError(
                    "validation_invalid_autogenerate_pattern",
                    "Unsupported autogenerate pattern (only character classes, literals and "
                    "counted repeats are supported).",
                )
            if self.validate_plain(sample) is not None:
                return FieldError(
                    "validation_invalid_autogenerate_pattern_value",
                    "The provided autogenerate pattern could produce invalid field values, "
                    f'ex.: "{sample}".',
                )
        return None


def _pk_characters_error(text: str) -> FieldError | None:
    for ch in _FORBIDDEN_PK_CHARS:
        if ch in text:
            return FieldError(
                "validation_forbidden_pk_character",
                f"'{ch}' is not a valid primary key character.",
                {"ch": ch},
            )
    if len(text) <= 4:
        for reserved in _RESERVED_PKS:
            if text.upper() == reserved:
                return FieldError(
                    "validation_reserved_pk",
                    f"The primary key '{reserved}' is reserved and cannot be used.",
                    {"reserved": reserved},
                )
    return None
