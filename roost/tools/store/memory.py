"""An in-process store: enough for one server process."""

from __future__ import annotations

import time


class MemoryStore:
    """A dict with lazy expiry; expired keys are dropped when touched or swept."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}
        self._writes = 0

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires and expires <= self._now():
            del self._data[key]
            return None
        return value

    def _sweep(self) -> None:
        self._writes += 1
        if self._writes % 1000:
            return
        now = self._now()
        for key in [k for k, (_, exp) in self._data.items() if exp and exp <= now]:
            del self._data[key]

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float = 0) -> None:
        self._sweep()
        self._data[key] = (value, self._now() + ttl if ttl else 0.0)

    async def has(self, key: str) -> bool:
        return self._live(key) is not None

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        current = self._live(key)
        if current is None:
            await self.set(key, "1", ttl)
            return 1
        count = int(current) + 1
        self._data[key] = (str(count), self._data[key][1])
        return count
