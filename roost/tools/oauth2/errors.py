"""The error every OAuth2 provider module raises (kept apart from the HTTP client, which is
imported only once an OAuth2 flow runs)."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider refused, failed or answered something unusable.

    ``status`` is the HTTP status the provider answered with (0 when no answer came), so a
    provider module can tell "this scope was not granted" (401/403/404) from an outage.
    """

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


__all__ = ["ProviderError"]
