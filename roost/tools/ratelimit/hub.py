"""The embedded hub as storage for the ``limits`` package (fixed-window counters)."""

from __future__ import annotations

import time

from limits.aio.storage import Storage

from roost.tools.hub import HubClient, HubError
from roost.tools.hub import protocol as p


class HubStorage(Storage):
    """Counters on the hub under ``prefix``; an increment and its window start are one operation."""

    STORAGE_SCHEME = None

    def __init__(self, url: str, prefix: str = "limits:") -> None:
        super().__init__(url, wrap_exceptions=True)
        self._client = HubClient(url)
        self.prefix = prefix

    @property
    def base_exceptions(self) -> type[Exception]:
        return HubError

    def _key(self, key: str) -> bytes:
        return (self.prefix + key).encode()

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        reply = await self._client.request(
            p.INCR, self._key(key), p.number(amount), p.number(float(expiry))
        )
        return int(reply[0])

    async def get(self, key: str) -> int:
        reply = await self._client.request(p.GET, self._key(key))
        return int(reply[0]) if reply else 0

    async def get_expiry(self, key: str) -> float:
        reply = await self._client.request(p.EXPIRY, self._key(key))
        return time.time() + float(reply[0])

    async def check(self) -> bool:
        try:
            await self._client.request(p.PING)
        except HubError:
            return False
        return True

    async def reset(self) -> int | None:
        await self._client.request(p.DELETE_PREFIX, self.prefix.encode())
        return None

    async def clear(self, key: str) -> None:
        await self._client.request(p.DELETE, self._key(key))

    async def aclose(self) -> None:
        await self._client.close()
