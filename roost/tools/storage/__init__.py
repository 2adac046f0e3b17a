"""File storage backends behind one protocol: local filesystem and S3 (``roost.tools.storage.s3``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.tools.storage.base import CHUNK_SIZE, Storage, StorageError, StoredObject
from roost.tools.storage.fallback import FallbackStorage
from roost.tools.storage.local import LocalStorage

if TYPE_CHECKING:
    from roost.tools.storage.s3 import S3Storage

__all__ = ["CHUNK_SIZE", "FallbackStorage", "LocalStorage", "Storage", "StorageError", "StoredObject", "create_s3_storage"]


def create_s3_storage(settings: dict[str, Any]) -> S3Storage:
    """An S3 backend from PocketBase's ``s3`` settings object (boto3 is imported only here)."""
    from roost.tools.storage.s3 import S3Config, S3Storage

    return S3Storage(S3Config.from_settings(settings))
