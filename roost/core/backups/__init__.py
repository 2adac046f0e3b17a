"""Backups of the data and files (``app.backups``), local or on S3, on demand or on a schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.core.backups.service import AUTO_JOB, AUTO_PREFIX, Backups
from roost.core.events import SettingsReloadEvent

if TYPE_CHECKING:
    from roost.core.base import App

__all__ = ["AUTO_JOB", "AUTO_PREFIX", "Backups", "register"]


def register(app: App, backups: Backups) -> None:
    """Keep the ``__pbAutoBackup__`` job in step with the ``backups.cron`` setting."""

    async def on_reload(event: SettingsReloadEvent) -> None:
        await event.next()
        backups.schedule()

    app.hooks.on_settings_reload.bind(on_reload, id="roost.backups")
