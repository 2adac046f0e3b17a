"""Concurrent holdings per key (open connections or streams per client IP) under one cap."""

from __future__ import annotations

from collections import Counter


class Slots:
    """At most ``limit`` slots held at once per key; ``limit`` 0 means no cap.

    Single-threaded by design (one event loop), so no lock: take and give back on the loop.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: Counter[str] = Counter()

    def acquire(self, key: str) -> bool:
        """Take a slot for ``key``; False (and nothing taken) when it already holds ``limit``."""
        if self.limit and self.held[key] >= self.limit:
            return False
        self.held[key] += 1
        return True

    def release(self, key: str) -> None:
        left = self.held[key] - 1
        if left > 0:
            self.held[key] = left
        else:
            self.held.pop(key, None)
