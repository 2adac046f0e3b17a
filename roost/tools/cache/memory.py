"""An in-process cache: a byte-bounded LRU for one server process."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

from roost.tools.cache.base import KeyCounters

DEFAULT_MAX_BYTES = 64 << 20


class MemoryCache(KeyCounters):
    """Least-recently-used entries up to ``max_bytes`` of values, with lazy expiry."""

    shared = False

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._size = 0

    async def start(self) -> None:
        return None

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires and expires <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return value

    def _drop(self, key: str) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self._size -= len(key) + len(item[0])

    def _put(self, key: str, value: bytes, ttl: float) -> None:
        self._drop(key)
        self._data[key] = (value, time.monotonic() + ttl if ttl else 0.0)
        self._size += len(key) + len(value)
        while self._size > self.max_bytes and self._data:
            self._drop(next(iter(self._data)))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._live(k) for k in keys]

    async def set(self, key: str, value: bytes, ttl: float = 0) -> None:
        self._put(key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def incr(self, key: str) -> int | None:
        current = self._live(key)
        if current is None:
            return None
        value = int(current) + 1
        expires = self._data[key][1]
        self._drop(key)
        self._put(key, str(value).encode(), 0)
        self._data[key] = (self._data[key][0], expires)  # a counter keeps its original expiry
        return value

    async def delete(self, key: str) -> None:
        self._drop(key)

    async def close(self) -> None:
        self._data.clear()
        self._size = 0
