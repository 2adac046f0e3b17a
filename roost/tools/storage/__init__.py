"""File storage backends behind one protocol (local filesystem today; S3 later)."""

from __future__ import annotations

from roost.tools.storage.base import Storage, StorageError
from roost.tools.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError"]
