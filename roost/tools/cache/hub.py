"""The response cache of workers joined by the embedded hub.

Entries (response bodies) stay in each worker's memory. The data-version counters, which every
entry key embeds, are shared by the workers in a page of memory the hub creates next to its
socket (:data:`roost.tools.hub.protocol.COUNTERS_FILE`): a slot per counter, picked by a hash
of its key. A write in one worker bumps the slot, so every worker's next lookup builds a new key
and misses: no body crosses the socket and no invalidation needs broadcasting, yet no worker
serves a response older than a write it could see. A lookup reads the slot without a round
trip to the hub; a bump takes a lock on the page file for its read and write.

Two counters that share a slot are bumped together: a write then retires the other
collection's entries too, which costs misses but never a stale answer.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
from collections.abc import Sequence
from pathlib import Path

from roost.tools.cache.base import CacheError, KeyCounters
from roost.tools.cache.memory import MemoryCache
from roost.tools.hub import HubClient, HubError
from roost.tools.hub import protocol as p

log = logging.getLogger("roost.cache")
_WRAP = (1 << 64) - 1


class HubCache(KeyCounters):
    """Bodies in a per-process :class:`MemoryCache`; ``add``/``incr`` keys on the hub; the
    data-version counters in the hub's page of shared memory."""

    shared = True

    def __init__(self, url: str, prefix: str = "cache:") -> None:
        self._client = HubClient(url)
        self._local = MemoryCache()
        self.prefix = prefix
        self._page_path = Path(url.removeprefix("hub://")).parent / p.COUNTERS_FILE
        self._page_fd = -1
        self._page: mmap.mmap | None = None
        #: the page as native unsigned 64-bit slots: each read and write of a slot is one aligned
        #: 8-byte load or store (``struct`` with a byte-order prefix would copy byte by byte)
        self._slots: memoryview | None = None

    async def start(self) -> None:
        try:
            await self._client.connect()
        except HubError as exc:
            raise CacheError(str(exc)) from exc
        if self._page is None:
            self._map_page()

    def _map_page(self) -> None:
        """Map the hub's counter page. A hub started by an older Roost (workers replaced by
        SIGHUP after an upgrade run under the old supervisor) has none, or one of another size:
        the counters then stay keys on the hub, one round trip per cached read, as they were."""
        try:
            fd = os.open(self._page_path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("response cache: the hub has no counter page (%s); counters stay on the hub", exc)
            return
        try:
            if os.fstat(fd).st_size != p.COUNTER_PAGE_BYTES:
                raise ValueError("the page is not the size this version uses")
            self._page = mmap.mmap(fd, p.COUNTER_PAGE_BYTES)
            self._slots = memoryview(self._page).cast("Q")
        except (OSError, ValueError) as exc:
            os.close(fd)
            log.warning("response cache: the hub's counter page cannot be mapped (%s); counters stay on the hub", exc)
            return
        self._page_fd = fd

    @staticmethod
    def _slot(key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % p.COUNTER_SLOTS

    async def counters(self, keys: Sequence[str]) -> list[bytes]:
        slots = self._slots
        if slots is None:
            return await super().counters(keys)
        # one aligned load per slot: a read racing a bump sees the old value or the new one
        return [str(slots[self._slot(k)]).encode() for k in keys]

    async def bump(self, key: str) -> None:
        slots = self._slots
        if slots is None:
            await super().bump(key)
            return
        slot = self._slot(key)
        fcntl.flock(self._page_fd, fcntl.LOCK_EX)  # bumps from every worker, one at a time
        try:
            slots[slot] = (slots[slot] + 1) & _WRAP
        finally:
            fcntl.flock(self._page_fd, fcntl.LOCK_UN)

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
        if self._page is not None:
            if self._slots is not None:
                self._slots.release()  # an exported view would keep the map open
            self._page.close()
            os.close(self._page_fd)
            self._page, self._slots, self._page_fd = None, None, -1

    async def _request(self, op: int, *fields: bytes) -> list[bytes]:
        try:
            return await self._client.request(op, *fields)
        except HubError as exc:
            raise CacheError(str(exc)) from exc
