"""``app.backups``: create, list, upload, download, delete and restore backups.

A backup is one zip archive. On SQLite it holds ``data.db`` and ``auxiliary.db`` (snapshots
made with SQLite's backup API) and the ``storage/`` directory, the same layout PocketBase's
archives have; on PostgreSQL and MySQL ``roost_dump.jsonl`` (see :mod:`.dump`) replaces the two
database files. Files kept on S3 storage are not copied into backups (as in PocketBase).

Archives are built and fetched in ``<data_dir>/.roost_temp`` (the same disk as the data, so a
restore renames instead of copying) and streamed to and from the store, never held in memory.

A restore checks the archive completely before touching anything: the zip's CRCs, then the
database file's integrity (or the whole dump). It then swaps ``storage/`` and replaces the
database in one transaction, putting ``storage/`` back if that fails. PocketBase restarts its
process after a restore; Roost reloads in this process instead (``reload``: system migrations,
collections, settings, caches, and the other instances of a cluster are told), so a restore
needs no process manager.

One backup or restore runs at a time per process (``active``; health's ``canBackup``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from roost.core.backups import dump, sqlite
from roost.core.backups.alerts import alert_superusers
from roost.core.backups.store import BackupStore, local_path, open_store
from roost.core.db.facade import QueryError
from roost.core.errors import BadRequest, FieldError, NotFound, ValidationFailed
from roost.core.events import BackupEvent
from roost.core.records.files import snake_case, stored_name
from roost.core.schema.fields.date import format_datetime
from roost.core.secret_box import WrongEncryptionKey
from roost.tools.archive import ArchiveError, create_zip, extract_zip, looks_like_zip, tree_entries
from roost.tools.cron import CronError
from roost.tools.storage import StorageError

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.backups")

AUTO_JOB = "__pbAutoBackup__"
AUTO_PREFIX = "@auto_pb_backup_"
NAME_PATTERN = re.compile(r"^[a-z0-9_-]+\.zip$")
TEMP_DIR = ".roost_temp"
DB_FILE, AUX_FILE, DUMP_FILE, STORAGE_DIR = "data.db", "auxiliary.db", "roost_dump.jsonl", "storage"
BUSY = "Try again later - another backup/restore process has already been started."
_INVALID_DATA = "An error occurred while validating the submitted data."


def _excluded(name: str, exclude: list[str]) -> bool:
    """``name`` (an archive path) is, or is under, one of the ``exclude`` entries."""
    return any(name == entry or name.startswith(entry.rstrip("/") + "/") for entry in exclude)


class Backups:
    """The backups of one app. ``reload`` brings the app in line with a restored database."""

    def __init__(self, app: App, reload: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self._reload = reload
        #: the backup being created or restored in this process (None: idle)
        self.active: str | None = None

    @property
    def can_backup(self) -> bool:
        return self.active is None

    @property
    def data_dir(self) -> Path:
        return Path(self.app.config.data_dir)

    @asynccontextmanager
    async def store(self) -> AsyncIterator[BackupStore]:
        try:
            async with open_store(self.data_dir, self.app.settings.data) as store:
                yield store
        except StorageError as exc:
            raise BadRequest(f"Failed to load backups filesystem. Raw error: \n{exc}") from exc

    @asynccontextmanager
    async def _busy(self, name: str) -> AsyncIterator[None]:
        if self.active is not None:
            raise BadRequest(BUSY)
        self.active = name
        try:
            yield
        finally:
            self.active = None

    # ----- listing and files ---------------------------------------------------------------------
    async def entries(self) -> list[dict[str, Any]]:
        """``[{key, size, modified}]`` sorted by key, as ``GET /api/backups`` answers."""
        async with self.store() as store:
            try:
                found = await store.list()
            except StorageError as exc:
                raise BadRequest(f"Failed to retrieve backup items. Raw error: \n{exc}") from exc
        return [{"key": item.key, "size": item.size, "modified": format_datetime(item.modified)} for item in found]

    async def size(self, key: str) -> int | None:
        async with self.store() as store:
            try:
                return await store.size(key)
            except StorageError:
                return None

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The archive's bytes ``start..end`` (inclusive) in chunks; the store stays open while
        it streams."""
        async with self.store() as store:
            async for chunk in store.stream(key, start, end):
                yield chunk

    async def delete(self, key: str) -> None:
        if key and self.active == key:
            raise BadRequest("The backup is currently being used and cannot be deleted.")
        async with self.store() as store:
            try:
                if await store.size(key) is None:
                    raise StorageError("resource not found")
                await store.delete(key)
            except StorageError as exc:
                raise BadRequest(f"Invalid or already deleted backup file. Raw error: \n[key: {key}] {exc}.") from exc

    async def upload(self, filename: str, file: BinaryIO | None) -> None:
        """Keep an uploaded archive under its own file name (``POST /api/backups/upload``)."""
        if file is None:
            raise ValidationFailed(_INVALID_DATA, {"file": FieldError("validation_required", "Cannot be blank.")})
        name = os.path.basename(filename.replace("\\", "/")).lstrip(".") or stored_name("backup.zip")
        head = file.read(8)
        file.seek(0)
        if not looks_like_zip(head):
            message = f'"{stored_name(name)}" mime type must be one of: application/zip.'
            raise ValidationFailed(_INVALID_DATA, {"file": FieldError("validation_invalid_mime_type", message)})
        async with self.store() as store:
            if await self._exists(store, name):
                message = "Backup file with the specified name already exists."
                raise ValidationFailed(_INVALID_DATA, {"file": FieldError("validation_backup_name_exists", message)})
            try:
                await store.put_file(name, file)
            except StorageError as exc:
                raise BadRequest("Failed to upload backup.") from exc

    @staticmethod
    async def _exists(store: BackupStore, key: str) -> bool:
        try:
            return await store.size(key) is not None
        except StorageError:
            return True  # an unusable name counts as taken (PocketBase: "invalid or already exists")

    # ----- create --------------------------------------------------------------------------------
    async def check_name(self, name: Any) -> str:
        """The validated ``name`` of ``POST /api/backups`` ("" to generate one)."""
        if name is None or name == "":
            return ""
        error: FieldError | None = None
        if not isinstance(name, str):
            raise BadRequest("An error occurred while loading the submitted data.")
        if len(name) > 150:
            error = FieldError("validation_length_out_of_range", "The length must be between 1 and 150.", {"min": 1, "max": 150})
        elif not NAME_PATTERN.match(name):
            error = FieldError("validation_match_invalid", "Must be in a valid format.")
        else:
            async with self.store() as store:
                if await self._exists(store, name):
                    error = FieldError("validation_backup_name_exists", "The backup file name is invalid or already exists.")
        if error is not None:
            raise ValidationFailed(_INVALID_DATA, {"name": error})
        return name

    def generate_name(self, prefix: str = "pb_backup_") -> str:
        meta = self.app.settings.data.get("meta") or {}
        app_name = snake_case(str(meta.get("appName") or ""))[:50]
        return f"{prefix}{app_name}_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}.zip"

    async def create(self, name: str = "") -> str:
        """Create a backup named ``name`` (generated when empty); returns its key."""
        async with self._busy(name or "@creating"):
            event = BackupEvent(app=self.app, name=name, exclude=["backups", TEMP_DIR])
            await self.app.hooks.on_backup_create.trigger(event, self._create)
            return event.name

    async def _create(self, event: BackupEvent) -> None:
        event.name = event.name or self.generate_name()
        self.active = event.name
        work = self._work_dir("backup")
        try:
            archive = work / "archive.zip"
            try:
                await self._build_archive(work, archive, event.exclude)
            except (QueryError, OSError, sqlite3.Error) as exc:
                raise BadRequest(f"Failed to create backup. Raw error: \n{exc}") from exc
            async with self.store() as store:
                with archive.open("rb") as src:
                    try:
                        await store.put_file(event.name, src)
                    except StorageError as exc:
                        raise BadRequest(f"Failed to create backup. Raw error: \n{exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _build_archive(self, work: Path, archive: Path, exclude: list[str]) -> None:
        entries: list[tuple[str, Path]] = []
        if self.app.dialect == "sqlite":
            await asyncio.to_thread(sqlite.snapshot, self._sqlite_path(), work / DB_FILE)
            entries.append((DB_FILE, work / DB_FILE))
            aux = self.data_dir / AUX_FILE
            if aux.is_file() and AUX_FILE not in exclude:
                await asyncio.to_thread(sqlite.snapshot, aux, work / AUX_FILE)
                entries.append((AUX_FILE, work / AUX_FILE))
        else:
            with (work / DUMP_FILE).open("wb") as out:
                await dump.write_dump(self.app.db, out)
            entries.append((DUMP_FILE, work / DUMP_FILE))

        def write() -> None:
            storage = tree_entries(self.data_dir / STORAGE_DIR, STORAGE_DIR)
            create_zip(archive, [*entries, *(item for item in storage if not _excluded(item[0], exclude))])

        await asyncio.to_thread(write)

    def _sqlite_path(self) -> Path:
        return Path(self.app.db.url.split(":///", 1)[1])

    def _work_dir(self, kind: str) -> Path:
        path = self.data_dir / TEMP_DIR / f"{kind}_{secrets.token_hex(6)}"
        path.mkdir(parents=True)
        return path

    # ----- restore -------------------------------------------------------------------------------
    async def check_restorable(self, key: str) -> None:
        """What ``POST /api/backups/{key}/restore`` checks before it starts."""
        if self.active is not None:
            raise BadRequest(BUSY)
        if not key or await self.size(key) is None:
            raise BadRequest("Missing or invalid backup file.")

    async def restore(self, key: str) -> None:
        """Replace the data and files with the backup ``key``; raises BadRequest and leaves the
        current data when the archive is invalid or the restore fails."""
        async with self._busy(key):
            event = BackupEvent(app=self.app, name=key, exclude=["backups", TEMP_DIR])
            await self.app.hooks.on_backup_restore.trigger(event, self._restore)

    async def _restore(self, event: BackupEvent) -> None:
        work = self._work_dir("restore")
        try:
            extracted = work / "data"
            await self._extract(event.name, work, extracted)
            await self._validate(extracted)
            await self._swap_in(extracted, work / "old", keep_storage=STORAGE_DIR in event.exclude)
            await self._reload()
        except (ArchiveError, sqlite.InvalidDatabase, dump.InvalidDump, StorageError, QueryError, OSError) as exc:
            raise BadRequest(f"Failed to restore backup. Raw error: \n{exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _extract(self, key: str, work: Path, dest: Path) -> None:
        path = local_path(self.data_dir, self.app.settings.data, key)
        if path is None or not path.is_file():
            path = work / "archive.zip"
            async with self.store() as store:
                if await store.size(key) is None:
                    raise NotFound("Missing or invalid backup file.")
                with path.open("wb") as out:
                    async for chunk in store.stream(key):
                        await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(extract_zip, path, dest)

    async def _validate(self, extracted: Path) -> None:
        if self.app.dialect == "sqlite":
            if not (extracted / DB_FILE).is_file():
                raise ArchiveError(f"{DB_FILE} file is missing from the backup")
            await asyncio.to_thread(sqlite.check_roost_database, extracted / DB_FILE)
            stored = await asyncio.to_thread(sqlite.stored_settings, extracted / DB_FILE)
        else:
            if not (extracted / DUMP_FILE).is_file():
                raise ArchiveError(f"{DUMP_FILE} is missing from the backup (was it made on {self.app.dialect}?)")
            await asyncio.to_thread(dump.read_header, extracted / DUMP_FILE, self.app.dialect)
            await asyncio.to_thread(dump.check_dump, extracted / DUMP_FILE)
            stored = await asyncio.to_thread(dump.stored_settings, extracted / DUMP_FILE)
        if stored is not None:
            try:
                self.app.settings.check_readable(stored)
            except (WrongEncryptionKey, ValueError) as exc:
                # the app could not load the restored settings: refuse before anything changes
                raise ArchiveError(f"the backup's settings cannot be read here: {exc}") from exc

    async def _swap_in(self, extracted: Path, old: Path, *, keep_storage: bool = False) -> None:
        if keep_storage:
            await self._restore_database(extracted)
            await self._restore_logs(extracted)
            return
        storage, new_storage = self.data_dir / STORAGE_DIR, extracted / STORAGE_DIR
        new_storage.mkdir(exist_ok=True)
        moved = storage.exists()
        if moved:
            await asyncio.to_thread(os.replace, storage, old)
        await asyncio.to_thread(os.replace, new_storage, storage)
        try:
            await self._restore_database(extracted)
        except BaseException:
            await asyncio.to_thread(os.replace, storage, new_storage)
            if moved:
                await asyncio.to_thread(os.replace, old, storage)
            raise
        await self._restore_logs(extracted)

    async def _restore_logs(self, extracted: Path) -> None:
        aux = extracted / AUX_FILE
        if self.app.dialect == "sqlite" and aux.is_file():
            try:
                await asyncio.to_thread(sqlite.restore_into, aux, self.data_dir / AUX_FILE)
            except Exception as exc:  # logs are not data: the restore stands
                log.warning("backup restore: the logs database was not restored: %s", exc)

    async def _restore_database(self, extracted: Path) -> None:
        if self.app.dialect == "sqlite":
            await asyncio.to_thread(sqlite.restore_into, extracted / DB_FILE, self._sqlite_path())
        else:
            await dump.restore_dump(self.app.db, extracted / DUMP_FILE)

    def clear_temp(self, older_than: float = 3600.0) -> None:
        """Remove what an interrupted backup or restore left (run at bootstrap). Only entries
        older than ``older_than`` seconds go: another worker sharing the data dir may be busy."""
        root = self.data_dir / TEMP_DIR
        if not root.is_dir():
            return
        for entry in root.iterdir():
            try:
                if time.time() - entry.stat().st_mtime > older_than:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue

    # ----- automatic backups -----------------------------------------------------------------------
    def schedule(self) -> None:
        """(Re)register ``__pbAutoBackup__`` from the ``backups.cron`` setting."""
        backups = self.app.settings.data.get("backups") or {}
        expression = str(backups.get("cron") or "")
        if not expression:
            self.app.cron.remove(AUTO_JOB)
            return
        try:
            self.app.cron.add(AUTO_JOB, expression, self.auto_backup)
        except CronError as exc:
            self.app.cron.remove(AUTO_JOB)
            log.error("backups.cron %r is invalid, no automatic backups: %s", expression, exc)

    async def auto_backup(self) -> None:
        """The cron job: create ``@auto_pb_backup_<app>_<time>.zip``, then keep only the newest
        ``backups.cronMaxKeep`` automatic backups (0: keep all)."""
        name = self.generate_name(AUTO_PREFIX)
        try:
            await self.create(name)
        except Exception as exc:
            detail = exc.message if isinstance(exc, BadRequest) else str(exc)
            log.error("automatic backup %s failed: %s", name, detail)
            await alert_superusers(self.app, "Autobackup failure", f"The automatic backup {name} was not made: {detail}")
        backups = self.app.settings.data.get("backups") or {}
        keep = int(backups.get("cronMaxKeep") or 0)
        if keep > 0:
            await self.prune(keep)

    async def prune(self, keep: int) -> None:
        async with self.store() as store:
            found = [item for item in await store.list() if item.key.startswith(AUTO_PREFIX)]
            found.sort(key=lambda item: item.modified, reverse=True)
            for item in found[keep:]:
                try:
                    await store.delete(item.key)
                except StorageError as exc:
                    log.error("could not remove the old automatic backup %s: %s", item.key, exc)
