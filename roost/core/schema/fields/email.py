"""The ``email`` field type."""

from __future__ import annotations

import re
from typing import ClassVar

from roost.core.errors import FieldError
from roost.core.schema.fields._domains import DomainRestrictedField
from roost.core.schema.fields.base import register

# The shape of govalidator's IsEmail (used by PocketBase): a dot-atom or quoted local part and a
# domain of dotted labels that may contain "-", ".", "_" and "~" inside, plus non-ASCII letters.
_U = "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
_ATOM = rf"[a-zA-Z0-9!#$%&'*+\-/=?^_`{{|}}~{_U}]+"
_QUOTED = rf'"(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\x21\x23-\x5b\x5d-\x7e \t{_U}]|\\[\x01-\x7f{_U}])*"'
_LABEL = rf"(?:[a-zA-Z0-9{_U}]|[a-zA-Z0-9{_U}][a-zA-Z0-9\-._~{_U}]*[a-zA-Z0-9{_U}])"
_TLD = rf"(?:[a-zA-Z{_U}]|[a-zA-Z{_U}][a-zA-Z0-9\-._~{_U}]*[a-zA-Z{_U}])"
_EMAIL_RE = re.compile(rf"^(?:{_ATOM}(?:\.{_ATOM})*|{_QUOTED})@(?:{_LABEL}\.)+{_TLD}\.?$")


def is_email(value: str) -> bool:
    """True if ``value`` has a valid email address format (no DNS lookups)."""
    # the labels above can backtrack badly on very long junk; real addresses are short
    return len(value) <= 320 and bool(_EMAIL_RE.match(value))


@register
class EmailField(DomainRestrictedField):
    """An email address, optionally restricted to (or excluding) some domains."""

    type: ClassVar[str] = "email"
    DOMAIN_ERROR: ClassVar[tuple[str, str]] = (
        "validation_email_domain_not_allowed",
        "Email domain is not allowed.",
    )

    def is_valid_format(self, value: str) -> bool:
        return is_email(value)

    def domain_of(self, value: str) -> str:
        return value[value.rfind("@") + 1 :]

    def format_error(self) -> FieldError:
        return FieldError("validation_is_email", "Must be a valid email address.")
