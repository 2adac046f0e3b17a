"""Connection pools for Roost's Redis clients (broker, store, cache, rate-limit counters).

redis-py's default pool refuses a command outright ("Too many connections") once 100
connections are busy, so a burst of more concurrent requests than that turned into errors.
These pools make a command wait for a free connection instead, for at most ``POOL_WAIT``
seconds (then it fails as an ordinary Redis error).
"""

from __future__ import annotations

from typing import Any

#: connections one client keeps open at most
MAX_CONNECTIONS = 100
#: seconds a command waits for a free connection before it fails
POOL_WAIT = 5.0


def blocking_pool(url: str, **options: Any) -> Any:
    """A ``redis.asyncio.BlockingConnectionPool`` for ``url`` (``options`` are connection options)."""
    import redis.asyncio as aioredis

    return aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT, **options
    )


def client(url: str, **options: Any) -> Any:
    """A ``redis.asyncio.Redis`` on its own :func:`blocking_pool`, closed with the client."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_pool(blocking_pool(url, **options))
