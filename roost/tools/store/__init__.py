"""Small key-value state with expiry (resend throttles, attempt counters)."""

from __future__ import annotations

from roost.tools.store.base import Store
from roost.tools.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
