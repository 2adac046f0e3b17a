"""Storage that writes to one backend and still reads what older backends hold.

When the files backend changes (local to S3, or one bucket to another) existing files stay where
they were; reads try the current backend first and then the previous ones, and deletes reach all
of them, so switching loses access to nothing and moves nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import BinaryIO

from roost.tools.storage.base import Storage, StorageError

log = logging.getLogger("roost.storage")
_LOCATED_MAX = 4096


class FallbackStorage:
    """``primary`` takes every write; ``fallbacks`` are read when it lacks a key. A fallback that
    fails (a bucket whose credentials were since revoked) counts as not holding the key."""

    def __init__(self, primary: Storage, fallbacks: Sequence[Storage]) -> None:
        self.primary = primary
        self.fallbacks = list(fallbacks)
        #: which backend answered the latest size checks: a download asks for the size and then
        #: streams, and the stream should not ask every backend again
        self._located: OrderedDict[str, Storage] = OrderedDict()

    def __repr__(self) -> str:
        return f"FallbackStorage({self.primary!r}, fallbacks={self.fallbacks!r})"

    async def _holder(self, key: str) -> tuple[Storage, int] | None:
        found = await self.primary.size(key)
        if found is not None:
            self._remember(key, self.primary)
            return self.primary, found
        for backend in self.fallbacks:
            try:
                found = await backend.size(key)
            except StorageError as exc:
                log.warning("previous file storage %r unreadable: %s", backend, exc)
                continue
            if found is not None:
                self._remember(key, backend)
                return backend, found
        return None

    def _remember(self, key: str, backend: Storage) -> None:
        self._located[key] = backend
        self._located.move_to_end(key)
        while len(self._located) > _LOCATED_MAX:
            self._located.popitem(last=False)

    async def put(self, key: str, data: bytes) -> None:
        await self.primary.put(key, data)

    async def put_file(self, key: str, file: BinaryIO) -> None:
        await self.primary.put_file(key, file)

    async def get(self, key: str) -> bytes | None:
        holder = await self._holder(key)
        return None if holder is None else await holder[0].get(key)

    async def size(self, key: str) -> int | None:
        holder = await self._holder(key)
        return None if holder is None else holder[1]

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        backend = self._located.pop(key, None)
        if backend is None:
            holder = await self._holder(key)
            self._located.pop(key, None)
            backend = holder[0] if holder else self.primary
        async for chunk in backend.stream(key, start, end):
            yield chunk

    async def delete(self, key: str) -> None:
        self._located.pop(key, None)
        await self.primary.delete(key)
        for backend in self.fallbacks:
            try:
                await backend.delete(key)
            except StorageError as exc:
                log.warning("previous file storage %r: delete failed: %s", backend, exc)

    async def delete_prefix(self, prefix: str) -> None:
        for key in [k for k in self._located if k.startswith(f"{prefix}/")]:
            del self._located[key]
        await self.primary.delete_prefix(prefix)
        for backend in self.fallbacks:
            try:
                await backend.delete_prefix(prefix)
            except StorageError as exc:
                log.warning("previous file storage %r: delete failed: %s", backend, exc)
