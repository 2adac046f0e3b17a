"""Named hooks: ordered async handlers that core triggers at fixed points of its pipelines.

Handlers run in registration order. A handler of an ``after commit`` hook can no longer change
the outcome of the request; its failures are logged, never raised to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Handler = Callable[[T], Awaitable[None]]
log = logging.getLogger("roost.hooks")


class Hook(Generic[T]):
    """A list of async handlers for one event type."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Handler[T]] = []

    def add(self, handler: Handler[T]) -> Handler[T]:
        """Register ``handler`` (usable as a decorator); returns it unchanged."""
        self._handlers.append(handler)
        return handler

    def remove(self, handler: Handler[T]) -> None:
        self._handlers = [h for h in self._handlers if h is not handler]

    def __len__(self) -> int:
        return len(self._handlers)

    async def trigger(self, event: T) -> None:
        """Run every handler; the first exception propagates."""
        for handler in list(self._handlers):
            await handler(event)

    async def trigger_safely(self, event: T) -> None:
        """Run every handler, logging (not raising) failures: for after-commit hooks."""
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("hook %s handler %r failed", self.name, handler)
