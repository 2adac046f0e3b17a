"""Response-cache backends behind one protocol: in-process memory, Redis and Memcached."""

from __future__ import annotations

from roost.tools.cache.base import Cache, CacheError
from roost.tools.cache.memory import MemoryCache


def create_cache(url: str) -> Cache:
    """A cache for ``url``: ``memory://``, ``redis://``/``rediss://``/``unix://`` or ``memcached://``."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from roost.tools.cache.redis import RedisCache

        return RedisCache(url)
    if url.startswith("memcached://"):
        from roost.tools.cache.memcached import MemcachedCache

        return MemcachedCache(url)
    if url.startswith("hub://"):
        from roost.tools.cache.hub import HubCache

        return HubCache(url)
    if url.startswith("memory://"):
        return MemoryCache()
    raise CacheError(f"unsupported cache URL: {url.split('://')[0]}://")


__all__ = ["Cache", "CacheError", "MemoryCache", "create_cache"]
