"""Where backups are kept: ``<data_dir>/backups``, or the bucket of the ``backups.s3`` settings.

A store is opened per operation from the settings of the moment (a settings change applies to
the next operation) and closed after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from roost.tools.storage import LocalStorage, Storage, StoredObject, create_s3_storage

LOCAL_DIR = "backups"


class BackupStore(Storage, Protocol):
    async def list(self, prefix: str = "") -> list[StoredObject]:
        """The backups (objects at the root), sorted by key."""
        ...


def s3_settings(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The ``backups.s3`` settings when they are enabled."""
    backups = settings.get("backups")
    s3 = backups.get("s3") if isinstance(backups, dict) else None
    return s3 if isinstance(s3, dict) and s3.get("enabled") else None


@asynccontextmanager
async def open_store(data_dir: Path, settings: dict[str, Any]) -> AsyncIterator[BackupStore]:
    """The backups store of the current settings; raises StorageError when S3 is misconfigured."""
    s3 = s3_settings(settings)
    if s3 is None:
        yield LocalStorage(data_dir / LOCAL_DIR)
        return
    bucket = create_s3_storage(s3)
    try:
        yield bucket
    finally:
        bucket.close()


def local_path(data_dir: Path, settings: dict[str, Any], key: str) -> Path | None:
    """The file of a backup kept on local disk (None with S3: it is fetched first)."""
    return None if s3_settings(settings) is not None else data_dir / LOCAL_DIR / key

