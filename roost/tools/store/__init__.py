"""Small key-value state with expiry (resend throttles, attempt counters)."""

from __future__ import annotations

from roost.tools.store.base import Store
from roost.tools.store.memory import MemoryStore


def create_store(redis_url: str = "") -> Store:
    """Redis when a URL is configured (state shared by every instance), the embedded hub for a
    ``hub://`` URL (shared by the workers of one machine), else this process's memory."""
    if redis_url.startswith("hub://"):
        from roost.tools.store.hub import HubStore

        return HubStore(redis_url)
    if redis_url:
        from roost.tools.store.redis import RedisStore

        return RedisStore(redis_url)
    return MemoryStore()


__all__ = ["MemoryStore", "Store", "create_store"]
