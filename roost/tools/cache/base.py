"""The protocol every response-cache backend implements: bytes values with expiry, plus counters.

Keys are short printable ASCII without spaces (callers hash anything longer). A backend may
evict any key at any time; callers must treat a missing key as "unknown", never as "zero".

Data-version counters (``counters`` and ``bump``) start at a random value, so a counter lost to
eviction never comes back to a value an old entry's key used. :class:`KeyCounters` keeps them as
ordinary keys; the embedded hub's cache keeps them in a page of shared memory instead.
"""

from __future__ import annotations

import secrets
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

    async def counters(self, keys: Sequence[str]) -> list[bytes]:
        """The value of each data-version counter in ``keys``; a missing one starts at random."""

    async def bump(self, key: str) -> None:
        """Add one to the data-version counter at ``key`` (starting it at random when missing)."""

    async def close(self) -> None:
        """Disconnect; idempotent."""


def random_start() -> bytes:
    """A counter's first value: random, so it never repeats one an evicted counter had."""
    return str(secrets.randbits(62)).encode()


class KeyCounters:
    """``counters`` and ``bump`` over a backend's own ``get_many``, ``add`` and ``incr``."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        raise NotImplementedError

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        raise NotImplementedError

    async def incr(self, key: str) -> int | None:
        raise NotImplementedError

    async def counters(self, keys: Sequence[str]) -> list[bytes]:
        values = await self.get_many(keys)
        found: list[bytes] = []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                await self.add(key, random_start())
                value = (await self.get_many([key]))[0]
                if value is None:
                    raise CacheError("a data-version counter was evicted at once")
            found.append(value)
        return found

    async def bump(self, key: str) -> None:
        # a missing counter starts at random; if another process started it first, count on it
        if await self.incr(key) is None and not await self.add(key, random_start()):
            await self.incr(key)
