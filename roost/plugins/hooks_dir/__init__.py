"""Hooks files: the ``*.py`` files of the hooks directory, run at start-up and on change.

``roost serve --hooksDir DIR`` (default ``roost_hooks`` next to the data dir) runs every ``*.py``
there, sorted by name, when the app is built. A file registers hook handlers, routes and cron jobs
through ``roost.hooks.app``. A file that fails stops the start with a one-line error naming the
file and line, before anything is opened.

With ``--hooksWatch`` (on with ``--dev``) a change to the directory runs every file again and
swaps each file's registrations for its new ones without awaiting anything in between, so
requests in flight and open connections (realtime streams, keep-alive) are untouched. A file that
now fails keeps its previous registrations and its error is logged.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from roost.apis.route_group import RouteGroup
from roost.apis.router import Router
from roost.core.app import App
from roost.core.events import ServeEvent
from roost.plugins.hooks_dir.loader import HookFileError, run_hooks_file
from roost.plugins.hooks_dir.registrations import (
    Registration,
    RegistrationError,
    Target,
    apply_all,
    remove_all,
    swap,
)
from roost.plugins.hooks_dir.watch import snapshot

log = logging.getLogger("roost.hooks")
#: seconds between two looks at the hooks directory when watching it
WATCH_INTERVAL = 0.5


def hook_files(directory: Path) -> list[Path]:
    """The hooks files of ``directory``, in the order they run (none when it does not exist)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.py") if p.is_file() and not p.name.startswith("."))


def check_hook_files(app: App, directory: Path | None = None) -> None:
    """Run every hooks file and apply what it registers to ``app`` (routes to a scratch group),
    then take it back: HookFileError on the first failure. ``roost serve`` calls it on a probe
    app so a broken file stops the start before the server is built."""
    target = Target(app, RouteGroup())
    for path in hook_files(directory or app.config.hooks_path):
        registrations = run_hooks_file(app, path)
        try:
            apply_all(target, registrations)
        except RegistrationError as exc:
            raise HookFileError(str(exc)) from exc
        remove_all(target, registrations)


class HooksDir:
    """The built-in plugin that loads (and, when asked, reloads) the hooks directory."""

    def __init__(self, directory: Path | None = None, *, watch: bool | None = None) -> None:
        self.directory = directory
        self.watch = watch
        self.routes = RouteGroup()
        #: file -> what it registered, as applied now
        self.applied: dict[Path, list[Registration]] = {}
        self._target: Target | None = None

    def register(self, app: App) -> None:
        self.directory = self.directory or app.config.hooks_path
        if self.watch is None:
            self.watch = app.config.watch_hooks
        self._target = Target(app, self.routes)
        self.load()
        app.hooks.on_serve.bind(self._serve_routes)
        if self.watch:
            app.jobs.add("hooks-watch", self._watch)

    def load(self) -> None:
        """Run every file and apply what it registered; HookFileError names the first that fails."""
        target = self._require_target()
        for path in hook_files(self._directory()):
            registrations = run_hooks_file(target.app, path)
            try:
                apply_all(target, registrations)
            except RegistrationError as exc:
                raise HookFileError(str(exc)) from exc
            self.applied[path] = registrations

    def reload(self) -> list[str]:
        """Run every file again and swap in what each registers now; returns the errors (one line each).

        A file that fails keeps what it registered before; a file that is gone loses it.
        """
        target = self._require_target()
        errors: list[str] = []
        files = hook_files(self._directory())
        for gone in [p for p in self.applied if p not in files]:
            swap(target, self.applied.pop(gone), [])
        for path in files:
            try:
                new = run_hooks_file(target.app, path)
                swap(target, self.applied.get(path, []), new)
            except (HookFileError, RegistrationError) as exc:
                errors.append(str(exc))
                log.error("hooks file not reloaded, the previous version stays: %s", exc)
                continue
            self.applied[path] = new
        log.info("hooks reloaded: %d file(s), %d error(s)", len(files), len(errors))
        return errors

    async def _serve_routes(self, e: ServeEvent) -> None:
        if isinstance(e.router, Router):
            e.router.add_route_group(self.routes)
        await e.next()

    async def _watch(self) -> None:
        seen = snapshot(self._directory())
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = snapshot(self._directory())
            if now != seen:
                seen = now
                try:
                    self.reload()
                except Exception:  # keep watching: the next save may fix it
                    log.exception("hooks reload failed")

    def _directory(self) -> Path:
        assert self.directory is not None
        return self.directory

    def _require_target(self) -> Target:
        if self._target is None:
            raise RuntimeError("HooksDir.register(app) has not run")
        return self._target


__all__ = ["HookFileError", "HooksDir", "check_hook_files", "hook_files"]
