"""Settings and small caches of the OAuth2 client side of one app."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx is imported once an OAuth2 flow runs
    import httpx

#: ``(app, client_id, message, ip)``: delivers ``{"state", "code", "error"?}`` to the realtime
#: client ``client_id``; False when no such client holds an ``@oauth2`` subscription from ``ip``
RedirectSink = Callable[[Any, str, dict[str, str], str], Awaitable[bool]]


@dataclass
class OAuth2Runtime:
    """Settings and caches of one app's OAuth2 client side."""

    #: seconds for each request to a provider (token, user info, keys, avatar)
    timeout: float = 15.0
    #: largest provider response body read, in bytes
    max_response_bytes: int = 2 * 1024 * 1024
    #: avatars are downloaded only from public addresses unless this is set (tests, intranets)
    allow_private_avatar_hosts: bool = False
    #: an httpx transport for every outgoing call (None = the network)
    transport: httpx.AsyncBaseTransport | None = None
    redirect_sink: RedirectSink | None = None
    cache_seconds: float = 600.0
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def cached(self, key: str) -> Any:
        hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._cache.pop(key, None)
            return None
        return hit[1]

    def remember(self, key: str, value: Any, seconds: float | None = None) -> None:
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[key] = (
            time.monotonic() + (self.cache_seconds if seconds is None else seconds),
            value,
        )

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)
