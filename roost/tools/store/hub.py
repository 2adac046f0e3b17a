"""The embedded hub as a store, so throttles and attempt counters hold across the workers."""

from __future__ import annotations

from roost.tools.hub import HubClient
from roost.tools.hub import protocol as p


class HubStore:
    """Keys live under ``prefix`` on the hub; every operation is one atomic round trip."""

    def __init__(self, url: str, prefix: str = "store:") -> None:
        self._client = HubClient(url)
        self.prefix = prefix

    async def get(self, key: str) -> str | None:
        reply = await self._client.request(p.GET, (self.prefix + key).encode())
        return reply[0].decode() if reply else None

    async def set(self, key: str, value: str, ttl: float = 0) -> None:
        await self._client.request(
            p.SET, (self.prefix + key).encode(), value.encode(), p.number(float(ttl))
        )

    async def has(self, key: str) -> bool:
        return await self.get(key) is not None

    async def delete(self, key: str) -> None:
        await self._client.request(p.DELETE, (self.prefix + key).encode())

    async def incr(self, key: str, ttl: float) -> int:
        reply = await self._client.request(
            p.INCR, (self.prefix + key).encode(), b"1", p.number(float(ttl))
        )
        return int(reply[0])

    async def close(self) -> None:
        await self._client.close()
