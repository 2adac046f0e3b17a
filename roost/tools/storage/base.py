"""The storage protocol: opaque slash-separated keys mapped to bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

#: size of the chunks streamed to and from a backend
CHUNK_SIZE = 256 * 1024


class StorageError(Exception):
    """A key is invalid or the backend failed."""


@dataclass(frozen=True)
class StoredObject:
    """One listed key: its size in bytes and when it was last written (UTC)."""

    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def put_file(self, key: str, file: BinaryIO) -> None:
        """Store the rest of ``file`` (read in chunks, never whole)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when the key does not exist."""
        ...

    async def size(self, key: str) -> int | None:
        """The stored size in bytes, or None when the key does not exist."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start..end`` (inclusive; ``end`` None: to the last) in chunks."""
        ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix/``."""
        ...
