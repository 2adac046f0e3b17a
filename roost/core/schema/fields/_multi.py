"""Shared single/multiple value handling for select, relation and file fields.

``maxSelect`` <= 1 means a single value (a string, ``""`` when empty); larger means a list.
Input goes through PocketBase's ``ToUniqueStringSlice`` normalisation; a single field keeps the
*last* item of a list (verified against PocketBase 0.40.6).
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from roost.core.schema.fields.base import Field, unique_strings

_SINGLE = {"sqlite": "TEXT DEFAULT '' NOT NULL", "postgresql": "TEXT DEFAULT '' NOT NULL",
           "mysql": "LONGTEXT NOT NULL"}
_MULTI = {"sqlite": "JSON DEFAULT '[]' NOT NULL", "postgresql": "JSONB DEFAULT '[]' NOT NULL",
          "mysql": "LONGTEXT NOT NULL DEFAULT ('[]')"}


class MultiValueField(Field):
    """Base class; subclasses declare ``maxSelect`` among their options."""

    maxSelect: int

    @property
    def json_column(self) -> bool:  # type: ignore[override]
        return self.is_multiple()

    COLUMN: ClassVar[dict[str, str]] = _SINGLE
    MODIFIERS: ClassVar[frozenset[str]] = frozenset({"+", "^", "-"})

    def is_multiple(self) -> bool:
        return self.maxSelect > 1

    def effective_max_select(self) -> int:
        """The count limit applied to values (at least 1)."""
        return max(self.maxSelect, 1)

    def column_type(self, dialect: str) -> str:
        table = _MULTI if self.is_multiple() else _SINGLE
        return table.get(dialect, table["sqlite"])

    def zero(self) -> Any:
        return [] if self.is_multiple() else ""

    def normalize(self, items: list[str]) -> Any:
        """Shape already unique strings as this field's value (list, or last item)."""
        if self.is_multiple():
            return items
        return items[-1] if items else ""

    def values_of(self, value: Any) -> list[str]:
        """The value as a list of unique non-empty strings (for validation and modifiers)."""
        return unique_strings(value)

    def coerce(self, raw: Any) -> Any:
        return self.normalize(unique_strings(raw))

    def to_db(self, value: Any) -> Any:
        items = unique_strings(value)
        if self.is_multiple():
            return orjson.dumps(items).decode()
        return items[-1] if items else ""

    def from_db(self, raw: Any) -> Any:
        if isinstance(raw, bytes):
            raw = raw.decode()
        # a column may hold either form after maxSelect changes; unique_strings reads both
        return self.normalize(unique_strings(raw))

    def apply_modifier(self, current: Any, modifier: str, raw: Any) -> Any:
        """``+`` appends, ``^`` prepends (``+field``), ``-`` removes the given values."""
        existing, given = unique_strings(current), unique_strings(raw)
        if modifier == "+":
            merged = existing + given
        elif modifier == "^":
            merged = given + existing
        elif modifier == "-":
            merged = [v for v in existing if v not in given]
        else:
            return self.coerce(raw)
        return self.coerce(merged)
