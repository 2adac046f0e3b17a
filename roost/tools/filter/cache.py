"""LRU cache of parsed filters keyed by ``(cache_key, expression)``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock

from roost.tools.filter.ast import Expr


class ParseCache:
    """A small thread-safe LRU mapping ``(cache_key, expression, limits)`` to a parsed tree.

    The caller passes e.g. the collection version as ``cache_key`` so entries of a changed
    collection stop being hit and age out.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Expr] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable) -> Expr | None:
        """The cached tree for ``key`` (marked as recently used), or None."""
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Expr) -> None:
        """Store a tree, evicting the least recently used entry when full."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
