"""Which backend holds uploaded files: local disk, or S3 from the ``s3`` settings.

``app.storage`` follows the settings while the app runs: every ``on_settings_reload`` (a change
here, or one announced by another instance of a cluster) rebuilds it when the ``s3`` values
changed. Switching moves no file. New files go to the current backend; reads fall back to the
local directory and to the buckets this process used before, and deletes reach them all, so files
stored before a switch stay served.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost.core.errors import BadRequest, FieldError, ValidationFailed
from roost.core.events import SettingsReloadEvent, TerminateEvent
from roost.tools.storage import FallbackStorage, LocalStorage, StorageError, create_s3_storage

if TYPE_CHECKING:
    from roost.core.base import App
    from roost.tools.storage.s3 import S3Storage

log = logging.getLogger("roost.storage")

FILESYSTEMS = ("storage", "backups")
_CONNECTION = ("bucket", "region", "endpoint", "accessKey", "secret", "forcePathStyle")


def s3_key(settings: Any) -> tuple[Any, ...] | None:
    """The connection values of an enabled ``s3`` settings object (None: S3 is off)."""
    if not isinstance(settings, dict) or not settings.get("enabled"):
        return None
    return tuple(settings.get(key) for key in _CONNECTION)


class StorageSwitch:
    """Rebuilds ``app.storage`` when the ``s3`` settings change."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.local = LocalStorage(Path(app.config.data_dir) / "storage")
        self.current: tuple[Any, ...] | None = None
        #: every bucket this process wrote to, newest first (read fallbacks after a switch)
        self.buckets: dict[tuple[Any, ...], S3Storage] = {}

    async def on_reload(self, event: SettingsReloadEvent) -> None:
        try:
            self.apply(event.app.settings.data.get("s3", {}))
        except StorageError as exc:
            log.error("file storage unchanged: %s", exc)
        await event.next()

    async def on_terminate(self, event: TerminateEvent) -> None:
        await event.next()  # the app stops serving first
        for backend in self.buckets.values():
            backend.close()

    def apply(self, s3: dict[str, Any]) -> None:
        config = s3_key(s3)
        if config == self.current:
            return
        if config is None:
            self.current = None
            older = list(self.buckets.values())
            self.app.storage = FallbackStorage(self.local, older) if older else self.local
            log.info("file storage: local directory %s", self.local.root)
            return
        primary = self.buckets.pop(config, None) or create_s3_storage(s3)
        self.current = config
        self.buckets = {config: primary, **self.buckets}
        older = [backend for key, backend in self.buckets.items() if key != config]
        self.app.storage = FallbackStorage(primary, [*older, self.local])
        log.info("file storage: S3 bucket %r at %r", primary.config.bucket, primary.config.endpoint or "AWS")


def register(app: App) -> StorageSwitch:
    """Keep ``app.storage`` in step with the settings (bound once per app)."""
    switch = StorageSwitch(app)
    app.storage = switch.local
    app.hooks.on_settings_reload.bind(switch.on_reload, id="roost.file_storage", priority=-1000)
    app.hooks.on_terminate.bind(switch.on_terminate, id="roost.file_storage")
    return switch


async def test_s3(app: App, body: Any) -> None:
    """``POST /api/settings/test/s3``: write and delete a probe with the saved ``storage`` or
    ``backups`` S3 settings; raises the 400 a client sees."""
    if not isinstance(body, dict):
        raise BadRequest("An error occurred while loading the submitted data.")
    name = body.get("filesystem")
    if not name:
        raise ValidationFailed("Failed to test the S3 filesystem.", {"filesystem": FieldError("validation_required", "Cannot be blank.")})
    if name not in FILESYSTEMS:
        raise ValidationFailed("Failed to test the S3 filesystem.", {"filesystem": FieldError("validation_in_invalid", "Must be a valid value.")})
    data = app.settings.data
    backups = data.get("backups")
    settings = (backups.get("s3") if isinstance(backups, dict) else None) if name == "backups" else data.get("s3")
    try:
        if s3_key(settings) is None or not isinstance(settings, dict):
            raise StorageError("S3 storage filesystem is not enabled.")
        backend = create_s3_storage(settings)
        try:
            await backend.check()
        finally:
            backend.close()
    except StorageError as exc:
        raise BadRequest(f"Failed to test the S3 filesystem. Raw error: \n{exc}") from exc
