"""The user's migrations: applied when the app starts serving, the ``roost migrate`` operations,
and ``--automigrate``.

With ``automigrate`` on (``--automigrate``, or ``--dev``) every collection created, updated or
deleted through the API (``/api/collections``, imports included) is written to the migrations
dir as a file whose ``up`` makes the change and whose ``down`` reverts it, and recorded as
applied. Changes made by migrations, hook files or other code are not written: like PocketBase,
only a superuser's requests are, so replaying the files elsewhere does not write them twice.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from roost.core.events import (
    CollectionEvent,
    CollectionRequestEvent,
    CollectionsImportRequestEvent,
    ServeEvent,
)
from roost.core.migrations import MigrationsRunner, load_dir, next_file, now_micro
from roost.migrations import templates

log = logging.getLogger("roost.migrations")
#: set while a collection request runs: the collection changes under it come from the API
_through_api: ContextVar[bool] = ContextVar("roost_collection_change_through_api", default=False)


def migrations_dir(app: Any) -> Path:
    return Path(app.config.migrations_path)


async def apply_pending(app: Any) -> list[str]:
    """Apply the migration files not yet applied; the names applied."""
    return await MigrationsRunner(app, load_dir(migrations_dir(app))).up()


async def revert(app: Any, count: int = 1) -> list[str]:
    """Revert the ``count`` migration files applied last."""
    return await MigrationsRunner(app, load_dir(migrations_dir(app))).down(count)


async def sync_history(app: Any) -> list[str]:
    """Forget the applied migration files that are no longer in the migrations dir."""
    return await MigrationsRunner(app, load_dir(migrations_dir(app))).history_sync()


def write_file(directory: Path, label: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = next_file(directory, label)
    path.write_text(text, encoding="utf-8")
    return path


def create_blank(directory: Path, name: str) -> Path:
    """``roost migrate create NAME``: a new empty migration file."""
    return write_file(directory, name, templates.blank(name))


def write_snapshot(app: Any) -> Path:
    """``roost migrate collections``: a migration that imports every non-system collection."""
    collections = [c for c in app.collections.all() if not c.system]
    return write_file(migrations_dir(app), "collections_snapshot", templates.snapshot(collections))


class MigrateCmd:
    """Built-in plugin: applies pending migration files at serve and, when enabled, automigrates."""

    def register(self, app: Any) -> None:
        app.hooks.on_serve.bind(self._apply_at_serve, id="roost.migrations.apply", priority=-100)
        if not app.config.automigrate_enabled:
            return
        hooks = app.hooks
        for request_hook in (
            hooks.on_collection_create_request,
            hooks.on_collection_update_request,
            hooks.on_collection_delete_request,
            hooks.on_collections_import_request,
        ):
            request_hook.bind(self._mark_api_change, id="roost.migrations.automigrate", priority=-100)
        for success_hook in (
            hooks.on_collection_after_create_success,
            hooks.on_collection_after_update_success,
            hooks.on_collection_after_delete_success,
        ):
            success_hook.bind(self._write_change, id="roost.migrations.automigrate")

    async def _apply_at_serve(self, e: ServeEvent) -> None:
        for name in await apply_pending(e.app):
            log.info("applied migration %s", name)
        await e.next()

    async def _mark_api_change(self, e: CollectionRequestEvent | CollectionsImportRequestEvent) -> None:
        token = _through_api.set(True)
        try:
            await e.next()
        finally:
            _through_api.reset(token)

    async def _write_change(self, e: CollectionEvent) -> None:
        await e.next()
        if not _through_api.get():
            return
        text, label = _automigration(e)
        if not text:
            return
        directory = migrations_dir(e.app)
        path = next_file(directory, label)
        async with e.app.db.transaction() as conn:  # no history row without its file, and no file without its row
            await conn.execute('INSERT INTO "_migrations" ("file", "applied") VALUES (:f, :t)', {"f": path.name, "t": now_micro()})
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        log.info("automigrate: wrote %s", path)


def _automigration(e: CollectionEvent) -> tuple[str, str]:
    """The file text and name label for one change ('' when an update changed nothing kept)."""
    coll = e.collection
    if e.action == "create":
        return templates.created(coll), f"created_{_label(coll.name)}"
    if e.action == "delete":
        return templates.deleted(coll), f"deleted_{_label(coll.name)}"
    before = e.original or coll
    if templates.collection_json(before) == templates.collection_json(coll):
        return "", ""
    return templates.updated(before, coll), f"updated_{_label(before.name)}"


def _label(name: str) -> str:
    # a file ending in "test" would look like a test module to pytest
    return f"{name}_" if name.lower().endswith("test") else name
