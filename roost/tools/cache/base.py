"""The protocol every response-cache backend implements: bytes values with expiry, plus counters.

Keys are short printable ASCII without spaces (callers hash anything longer). A backend may
evict any key at any time; callers must treat a missing key as "unknown", never as "zero".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class CacheError(Exception):
    """The cache backend cannot be reached or refused an operation."""


class Cache(Protocol):
    """A shared (or per-process) byte cache with atomic counters."""

    #: True when every process attached to the same URL sees the same entries
    shared: bool

    async def start(self) -> None:
        """Connect (idempotent); raises CacheError when the backend is unreachable."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, None where missing or expired, in the order given."""

    async def set(self, key: str, value: bytes, ttl: float = 0) -> None:
        """Store ``value``; ``ttl`` seconds to live (0 = until evicted)."""

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        """Store ``value`` only when ``key`` is missing; True when stored."""

    async def incr(self, key: str) -> int | None:
        """Add one to the decimal counter at ``key`` and return it; None when the key is missing."""

    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error when missing)."""

    async def close(self) -> None:
        """Disconnect; idempotent."""
