"""Shared ``onlyDomains``/``exceptDomains`` option handling for email and url fields."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields.base import (
    Field,
    FieldCollection,
    ValidationContext,
    go_string,
    required_error,
)

# ozzo-validation's is.Domain
_DOMAIN_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?\.)+(?:[a-zA-Z]{1,63}|xn--[a-zA-Z0-9]{1,59})$"
)


def is_domain(value: str) -> bool:
    """True for a syntactically valid domain name (at most 255 characters)."""
    return 0 < len(value) <= 255 and bool(_DOMAIN_RE.match(value))


class DomainRestrictedField(Field):
    """Base of text-like fields whose values carry a domain (email, url)."""

    COLUMN: ClassVar[dict[str, str]] = {
        "sqlite": "TEXT DEFAULT '' NOT NULL",
        "postgresql": "TEXT DEFAULT '' NOT NULL",
        "mysql": "LONGTEXT NOT NULL",
    }
    OPTIONS: ClassVar[dict[str, Any]] = {"exceptDomains": [], "onlyDomains": [], "required": False}
    exceptDomains: list[str]
    onlyDomains: list[str]
    required: bool
    #: the error returned for a disallowed domain
    DOMAIN_ERROR: ClassVar[tuple[str, str]] = ("", "")

    def coerce(self, raw: Any) -> str:
        return go_string(raw)

    def from_db(self, raw: Any) -> str:
        return go_string(raw)

    def is_valid_format(self, value: str) -> bool:
        raise NotImplementedError

    def domain_of(self, value: str) -> str:
        raise NotImplementedError

    def format_error(self) -> FieldError:
        raise NotImplementedError

    def validate(self, value: Any, ctx: ValidationContext) -> FieldError | None:
        text = go_string(value)
        if not text:
            return required_error() if self.required else None
        if not self.is_valid_format(text):
            return self.format_error()
        domain = self.domain_of(text)
        if self.onlyDomains and domain not in self.onlyDomains:
            return FieldError(*self.DOMAIN_ERROR)
        if self.exceptDomains and domain in self.exceptDomains:
            return FieldError(*self.DOMAIN_ERROR)
        return None

    def validate_definition(self, collection: FieldCollection) -> dict[str, FieldError]:
        errors = super().validate_definition(collection)
        blank = FieldError("validation_empty", "Must be blank.")
        if self.onlyDomains and self.exceptDomains:
            errors["exceptDomains"] = blank
            errors["onlyDomains"] = blank
            return errors
        for key in ("exceptDomains", "onlyDomains"):
            bad: dict[str, Any] = {
                str(i): FieldError("validation_is_domain", "Must be a valid domain.")
                for i, domain in enumerate(getattr(self, key))
                if not is_domain(domain)
            }
            if bad:
                errors[key] = bad  # type: ignore[assignment]  # nested per-item errors
        return errors
