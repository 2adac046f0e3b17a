"""The ``url`` field type."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from roost.core.errors import FieldError
from roost.core.schema.fields._domains import DomainRestrictedField
from roost.core.schema.fields.base import register

# A linear-time rendering of govalidator's IsURL pattern (used by PocketBase): optional
# lower-case scheme, optional user info, an IPv4/[IPv6]/host name, optional port and path.
_HOST_CHARS = "a-zA-Z0-9_\u00a1-\uffff-"
_URL_RE = re.compile(
    r"^(?:(?:ftp|tcp|udp|wss?|https?)://)?"
    r"(?:\S+(?::\S*)?@)?"
    rf"(?:\[[0-9a-fA-F:.%]+\]|[{_HOST_CHARS}]+(?:\.[{_HOST_CHARS}]+)*)\.?"
    r"(?::\d{1,5})?"
    r"(?:[/?#]\S*)?$"
)


def is_url(value: str) -> bool:
    """True for a URL PocketBase accepts (scheme optional, e.g. ``x.com`` passes)."""
    if not 3 < len(value) < 2083 or value.startswith("."):
        return False
    candidate = value
    if ":" in value and "://" not in value:
        candidate = "http://" + value  # a bare "host:port" is parsed with a scheme added
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return False
    host = parts.netloc.rpartition("@")[2]
    port = "" if host.endswith("]") else host.rpartition(":")[2] if ":" in host else ""
    if port and not port.isdigit():
        return False  # Go's url.Parse rejects a non-numeric port (but not a large one)
    if host.startswith("."):
        return False
    if not host and parts.path and "." not in parts.path:
        return False
    return bool(_URL_RE.match(value))


@register
class URLField(DomainRestrictedField):
    """A URL, optionally restricted to (or excluding) some hosts."""

    type: ClassVar[str] = "url"
    DOMAIN_ERROR: ClassVar[tuple[str, str]] = (
        "validation_url_domain_not_allowed",
        "Url domain is not allowed.",
    )

    def is_valid_format(self, value: str) -> bool:
        return is_url(value)

    def domain_of(self, value: str) -> str:
        # Go's url.URL.Host: host[:port] without user info; empty when there is no scheme
        try:
            return urlsplit(value).netloc.rpartition("@")[2]
        except ValueError:
            return ""

    def format_error(self) -> FieldError:
        return FieldError("validation_invalid_url", "Must be a valid url.")
