"""The storage protocol: opaque slash-separated keys mapped to bytes."""

from __future__ import annotations

from typing import Protocol


class StorageError(Exception):
    """A key is invalid or the backend failed."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when the key does not exist."""
        ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix/``."""
        ...
