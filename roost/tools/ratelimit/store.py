"""Fixed-window counters on the ``limits`` package: memory by default, Redis when configured.

A window opens at the first hit of a key and lasts ``window`` seconds, which is how PocketBase's
limiter counts too (the window starts at the client's first request, not at a clock boundary).
With Redis the counter is one atomic ``INCR`` + ``EXPIRE`` script, so N instances together
accept at most ``limit`` hits per window.

When Redis stops answering, the store does not fail open: it counts in process memory (so each
instance still enforces the limit on its own traffic) and tries Redis again a few seconds later.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from roost.tools.redis_pool import blocking_pool

log = logging.getLogger("roost.ratelimit")

#: seconds to count in memory after a Redis failure before trying Redis again
REDIS_RETRY_AFTER = 5.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one hit: whether it fits, what is left, and when the window ends."""

    allowed: bool
    #: hits left in the window (``-1`` when a successful ``hit`` did not look it up)
    remaining: int
    reset_after: float

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait (at least 1), as a ``Retry-After`` header wants it."""
        return max(1, math.ceil(self.reset_after))


class CounterStore:
    """Named fixed-window counters. ``hit`` consumes, ``peek`` only looks, ``clear`` forgets."""

    def __init__(self, storage: Storage | None = None, *, namespace: str = "roost") -> None:
        self.namespace = namespace
        self._primary = storage
        self._memory = MemoryStorage()
        self._down_until = 0.0

    @property
    def shared(self) -> bool:
        """True when counts are shared with other instances (Redis)."""
        return self._primary is not None

    def _item(self, limit: int, window: int) -> RateLimitItemPerSecond:
        return RateLimitItemPerSecond(max(1, limit), max(1, window), namespace=self.namespace)

    def _storage(self) -> Storage:
        if self._primary is not None and time.monotonic() >= self._down_until:
            return self._primary
        return self._memory

    def _failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "rate-limit storage unavailable, counting per instance for %.0fs: %s",
                REDIS_RETRY_AFTER,
                exc,
            )
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER

    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        """Count one hit of ``key``; ``allowed`` is False once ``limit`` hits are in the window."""
        item = self._item(limit, window)
        storage = self._storage()
        try:
            return await self._hit(storage, item, key)
        except StorageError as exc:
            self._failed(exc)
            return await self._hit(self._memory, item, key)

    async def peek(self, key: str, limit: int, window: int) -> Verdict:
        """The state of ``key`` without counting a hit (``allowed`` means one more would fit)."""
        item = self._item(limit, window)
        storage = self._storage()
        try:
            return await self._peek(storage, item, key)
        except StorageError as exc:
            self._failed(exc)
            return await self._peek(self._memory, item, key)

    async def clear(self, key: str, limit: int, window: int) -> None:
        """Forget the counts of ``key`` (for example after a successful login)."""
        item = self._item(limit, window)
        limiter = FixedWindowRateLimiter(self._storage())
        try:
            await limiter.clear(item, key)
        except StorageError as exc:
            self._failed(exc)
        await FixedWindowRateLimiter(self._memory).clear(item, key)

    async def ping(self) -> bool:
        """True if the shared storage answers (always True for memory)."""
        if self._primary is None:
            return True
        try:
            return bool(await self._primary.check())
        except StorageError:
            return False

    async def reset(self) -> None:
        """Drop every in-memory count (tests, and settings changes on a single instance)."""
        await self._memory.reset()

    async def close(self) -> None:
        timer = self._memory.timer
        if timer is not None and not timer.done():
            timer.cancel()
        if self._primary is not None:
            await _close_storage(self._primary)

    @staticmethod
    async def _hit(storage: Storage, item: RateLimitItemPerSecond, key: str) -> Verdict:
        limiter = FixedWindowRateLimiter(storage)
        if await limiter.hit(item, key):
            # the hot path: one round trip; callers that need the remaining count use peek()
            return Verdict(True, -1, 0.0)
        stats = await limiter.get_window_stats(item, key)
        return Verdict(False, 0, max(0.0, stats.reset_time - time.time()))

    @staticmethod
    async def _peek(storage: Storage, item: RateLimitItemPerSecond, key: str) -> Verdict:
        limiter = FixedWindowRateLimiter(storage)
        stats = await limiter.get_window_stats(item, key)
        return Verdict(
            stats.remaining > 0, stats.remaining, max(0.0, stats.reset_time - time.time())
        )


async def _close_storage(storage: Storage) -> None:
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    close = getattr(client, "aclose", None) or getattr(storage, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception as exc:  # closing a dead connection must not fail shutdown
            log.debug("closing rate-limit storage: %s", exc)


def counter_store(redis_url: str = "", *, namespace: str = "roost") -> CounterStore:
    """A memory store, a Redis-backed one for ``redis://`` / ``rediss://`` URLs, or one on the
    embedded hub for ``hub://`` (the workers of one ``roost serve``)."""
    url = redis_url.strip()
    if not url:
        return CounterStore(namespace=namespace)
    if url.startswith("hub://"):
        from roost.tools.ratelimit.hub import HubStorage

        return CounterStore(HubStorage(url), namespace=namespace)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"unsupported redis URL {url!r} (expected redis://, rediss:// or unix://)")
    if url.startswith("unix://"):
        url = "redis+" + url
    # a pool that waits for a free connection: a burst of requests must not fail on the pool
    pool = blocking_pool(url.removeprefix("redis+"), socket_connect_timeout=2, socket_timeout=2)
    storage = storage_from_string(
        "async+" + url, implementation="redispy", wrap_exceptions=True, key_prefix=namespace, connection_pool=pool,
    )  # fmt: skip
    assert isinstance(storage, Storage)
    return CounterStore(storage, namespace=namespace)
