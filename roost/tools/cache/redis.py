"""Redis cache (``redis://``): entries and counters shared by every instance of a deployment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roost.tools import redis_pool
from roost.tools.cache.base import CacheError, KeyCounters

# INCR creates a missing key at 1; counters must report "missing" instead (see base.py)
_INCR_EXISTING = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end return false"
)


class RedisCache(KeyCounters):
    """One connection pool; every operation is a single round trip."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._incr: Any = None

    async def start(self) -> None:
        if self._client is not None:
            return
        import redis.asyncio as aioredis

        client = redis_pool.client(self.url)
        try:
            await client.ping()
        except (OSError, aioredis.RedisError) as exc:
            await client.aclose()
            raise CacheError(f"Cannot reach Redis at {self.url}: {exc}") from exc
        self._client = client
        self._incr = client.register_script(_INCR_EXISTING)

    def _ready(self) -> Any:
        if self._client is None:
            raise CacheError("cache not started")
        return self._client

    async def _run(self, coro: Any) -> Any:
        import redis.asyncio as aioredis

        try:
            return await coro
        except (OSError, aioredis.RedisError) as exc:
            raise CacheError(f"Redis cache operation failed: {exc}") from exc

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return list(await self._run(self._ready().mget(list(keys))))

    async def set(self, key: str, value: bytes, ttl: float = 0) -> None:
        await self._run(self._ready().set(key, value, px=int(ttl * 1000) or None))

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        return bool(
            await self._run(self._ready().set(key, value, px=int(ttl * 1000) or None, nx=True))
        )

    async def incr(self, key: str) -> int | None:
        self._ready()
        result = await self._run(self._incr(keys=[key]))
        return None if result is None else int(result)

    async def delete(self, key: str) -> None:
        await self._run(self._ready().delete(key))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
