"""What a hooks file or a Roost program registers: hook handlers, routes and cron jobs.

Each registration knows how to apply itself to an app and how to take itself back, so the
hooks-dir loader can swap one file's registrations for the ones its new version makes without
touching anything else. A swap runs without awaiting anything, so no request ever sees half of it.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from roost.apis.route_group import RouteGroup
from roost.core.app import App
from roost.tools.hook import HandlerFunc

#: a cron job: ``def job()`` or ``async def job()``
CronFunc = Callable[[], Awaitable[None] | None]
_ids = itertools.count(1)
#: the roost package's directory: frames in it are Roost's own, not the registering caller's
_PACKAGE_DIR = str(Path(__file__).resolve().parents[2]) + os.sep


class RegistrationError(Exception):
    """A registration could not be applied; ``where`` is the ``file:line`` that made it."""

    def __init__(self, where: str, error: Exception) -> None:
        super().__init__(f"{where}: {type(error).__name__}: {one_line(str(error))}")
        self.where = where


@dataclass(frozen=True)
class Target:
    """Where registrations go: the core app (hooks, cron) and the changeable routes."""

    app: App
    routes: RouteGroup


@dataclass(eq=False)
class HookBinding:
    hook: str
    func: HandlerFunc[Any]
    tags: tuple[str, ...]
    priority: int
    where: str = ""
    id: str = field(default_factory=lambda: f"roost-hooks-{next(_ids)}")

    def apply(self, target: Target) -> None:
        hook = target.app.hooks.all()[self.hook]
        hook.bind(self.func, id=self.id, priority=self.priority, tags=self.tags)

    def remove(self, target: Target) -> None:
        target.app.hooks.all()[self.hook].unbind(self.id)


@dataclass(eq=False)
class RouteBinding:
    route: BaseRoute
    where: str = ""

    def apply(self, target: Target) -> None:
        target.routes.add(self.route)

    def remove(self, target: Target) -> None:
        target.routes.remove(self.route)


@dataclass(eq=False)
class CronBinding:
    job_id: str
    expression: str
    func: CronFunc
    where: str = ""

    def apply(self, target: Target) -> None:
        target.app.cron.add(self.job_id, self.expression, self.func)

    def remove(self, target: Target) -> None:
        target.app.cron.remove(self.job_id)


Registration = HookBinding | RouteBinding | CronBinding


def apply_all(target: Target, registrations: Sequence[Registration]) -> None:
    """Apply every registration, or none: one that fails takes back those applied before it."""
    done: list[Registration] = []
    for each in registrations:
        try:
            each.apply(target)
        except Exception as exc:
            remove_all(target, done)
            raise RegistrationError(each.where or "registration", exc) from exc
        done.append(each)


def remove_all(target: Target, registrations: Iterable[Registration]) -> None:
    for each in reversed(list(registrations)):
        each.remove(target)


def swap(target: Target, old: Sequence[Registration], new: Sequence[Registration]) -> None:
    """Replace ``old`` with ``new``; if ``new`` cannot be applied, ``old`` stays and the error is raised."""
    remove_all(target, old)
    try:
        apply_all(target, new)
    except RegistrationError:
        apply_all(target, old)
        raise


def caller_location() -> str:
    """``file:line`` of the nearest caller outside the roost package (the line that registered)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""


def one_line(text: str) -> str:
    return " ".join(text.split())


__all__ = [
    "CronBinding",
    "CronFunc",
    "HookBinding",
    "Registration",
    "RegistrationError",
    "RouteBinding",
    "Target",
    "apply_all",
    "swap",
]
