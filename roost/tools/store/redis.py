"""A Redis-backed store, so throttles and attempt counters hold across every instance."""

from __future__ import annotations

from redis.asyncio import Redis

from roost.tools import redis_pool


class RedisStore:
    """Keys live under ``prefix`` in one Redis database; TTLs use Redis's own expiry."""

    def __init__(self, url: str, prefix: str = "roost:store:") -> None:
        self._redis: Redis = redis_pool.client(url, decode_responses=True)
        self.prefix = prefix

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self.prefix + key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl: float = 0) -> None:
        await self._redis.set(self.prefix + key, value, px=int(ttl * 1000) if ttl else None)

    async def has(self, key: str) -> bool:
        return bool(await self._redis.exists(self.prefix + key))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self.prefix + key)

    async def incr(self, key: str, ttl: float) -> int:
        # one round trip: INCR, and start the window only on the first increment (fixed window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.prefix + key)
            pipe.pexpire(self.prefix + key, max(1, int(ttl * 1000)), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()

