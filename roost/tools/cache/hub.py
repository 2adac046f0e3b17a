"""The response cache of workers joined by the embedded hub.

Entries (response bodies) stay in each worker's memory; the data-version counters, which every
entry key embeds, live on the hub. A write in one worker bumps the shared counter, so every
worker's next lookup builds a new key and misses: no body crosses the socket and no
invalidation needs broadcasting, yet no worker serves a response older than a write it could see.
"""

from __future__ import annotations

from collections.abc import Sequence

from roost.tools.cache.base import CacheError
from roost.tools.cache.memory import MemoryCache
from roost.tools.hub import HubClient, HubError
from roost.tools.hub import protocol as p


class HubCache:
    """Bodies in a per-process :class:`MemoryCache`; ``add``/``incr`` keys (counters) on the hub."""

    shared = True

    def __init__(self, url: str, prefix: str = "cache:") -> None:
        self._client = HubClient(url)
        self._local = MemoryCache()
        self.prefix = prefix

    async def start(self) -> None:
        try:
            await self._client.connect()
        except HubError as exc:
            raise CacheError(str(exc)) from exc

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self._local.get_many(keys)
        missing = [n for n, value in enumerate(values) if value is None]
        if missing:
            found = await self._request(
                p.GET_MANY, *((self.prefix + keys[n]).encode() for n in missing)
            )
            for n, item in zip(missing, found, strict=True):
                values[n] = item[1:] if item else None
        return values

    async def set(self, key: str, value: bytes, ttl: float = 0) -> None:
        await self._local.set(key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float = 0) -> bool:
        reply = await self._request(
            p.ADD, (self.prefix + key).encode(), value, p.number(float(ttl))
        )
        return reply[0] == b"1"

    async def incr(self, key: str) -> int | None:
        reply = await self._request(p.INCR_EXISTING, (self.prefix + key).encode())
        return int(reply[0]) if reply else None

    async def delete(self, key: str) -> None:
        await self._local.delete(key)
        await self._request(p.DELETE, (self.prefix + key).encode())

    async def close(self) -> None:
        await self._local.close()
        await self._client.close()

    async def _request(self, op: int, *fields: bytes) -> list[bytes]:
        try:
            return await self._client.request(op, *fields)
        except HubError as exc:
            raise CacheError(str(exc)) from exc
