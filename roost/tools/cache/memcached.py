"""Memcached cache (``memcached://host:port``) through aiomcache's pooled text-protocol client."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from roost.tools.cache.base import CacheError, KeyCounters

MAX_KEY = 250
#: memcached reads an expiry above 30 days as a Unix time stamp
MAX_RELATIVE_TTL = 30 * 24 * 3600


def _key(key: str) -> bytes:
    raw = key.encode()
    if len(raw) > MAX_KEY or any(c <= 32 or c == 127 for c in raw):
        return b"h:" + hashlib.sha256(raw).hexdigest().encode()
    return raw


def _exptime(ttl: float) -> int:
    return min(math.ceil(ttl), MAX_RELATIVE_TTL) if ttl > 0 else 0


class MemcachedCache(KeyCounters):
    """Entries and counters in memcached; shared by every instance pointed at the same server."""

    shared = True

    def __init__(self, url: str, pool_size: int = 8) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 11211
        self.pool_size = pool_size
        self._client: Any = None

    async def start(self) -> None:
        if self._client is not None:
            return
        import aiomcache

        client = aiomcache.Client(self.host, self.port, pool_size=self.pool_size)
        try:
            await asyncio.wait_for(client.version(), 5)
        except (OSError, TimeoutError, aiomcache.exceptions.ClientException) as exc:
            await client.close()
            raise CacheError(f"Cannot reach memcached at {self.host}:{self.port}: {exc}") from exc
        self._client = client

    async def _run(self, method: str, *args: Any) -> Any:
        import aiomcache

        if self._client is None:
            raise CacheError("cache not started")
        try:
            return await getattr(self._client, method)(*args)
        except (OSError, asyncio.IncompleteReadError, aiomcache.exceptions.ClientException) as exc:
            raise CacheError(f"memcached operation failed: {exc}") from exc

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return list(await self._run("multi_get", *[_key(k) for k in keys]))

    async def set(self, key: str, value: bytes, ttl: float = 0) -> None:
        await self._run("set", _key(key), value, _exptime(ttl))

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        return bool(await self._run("add", _key(key), value, _exptime(ttl)))

    async def incr(self, key: str) -> int | None:
        try:
            result = await self._run("incr", _key(key))
        except CacheError as exc:
            if "NOT_FOUND" in str(exc):  # aiomcache raises instead of returning None
                return None
            raise
        return None if result is None else int(result)

    async def delete(self, key: str) -> None:
        await self._run("delete", _key(key))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
