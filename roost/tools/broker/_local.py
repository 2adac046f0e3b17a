"""Handler bookkeeping shared by the broker implementations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from roost.tools.broker.base import MessageHandler, ReconnectHandler

log = logging.getLogger("roost.broker")


class LocalHandlers:
    """Handlers by channel, dispatched in subscription order; failures are logged, not raised."""

    def __init__(self) -> None:
        self._by_channel: dict[str, list[MessageHandler]] = {}

    def add(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        self._by_channel.setdefault(channel, []).append(handler)

        async def remove() -> None:
            handlers = self._by_channel.get(channel, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers:
                self._by_channel.pop(channel, None)

        return remove

    def channels(self) -> list[str]:
        return list(self._by_channel)

    def has(self, channel: str) -> bool:
        return channel in self._by_channel

    def clear(self) -> None:
        self._by_channel.clear()

    async def dispatch(self, channel: str, payload: bytes) -> None:
        for handler in list(self._by_channel.get(channel, ())):
            try:
                await handler(payload)
            except Exception:
                log.exception("broker handler for %s failed", channel)


class ReconnectHandlers:
    """The ``on_reconnect`` handlers of one broker, each run in a task of its own when fired."""

    def __init__(self) -> None:
        self._handlers: list[ReconnectHandler] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, handler: ReconnectHandler) -> None:
        self._handlers.append(handler)

    def fire(self) -> None:
        log.info("broker connection restored; subscribers resynchronise")
        for handler in self._handlers:
            task = asyncio.get_running_loop().create_task(self._run(handler))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, handler: ReconnectHandler) -> None:
        try:
            await handler()
        except Exception:
            log.exception("broker reconnect handler failed")

    def clear(self) -> None:
        self._handlers.clear()
        for task in self._running:
            task.cancel()
