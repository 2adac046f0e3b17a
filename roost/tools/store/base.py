"""The protocol every key-value store implements (memory now; Redis can follow)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Store(Protocol):
    """String keys and values with a time to live in seconds (``ttl`` 0 = no expiry)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float = 0) -> None: ...

    async def has(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter and return it; the first increment starts a ``ttl`` window
        (a fixed window, as Redis ``INCR`` + ``EXPIRE NX`` gives)."""
        ...
