"""The in-process broker: the default for a single process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from roost.tools.broker._local import LocalHandlers
from roost.tools.broker.base import MessageHandler, ReconnectHandler


class MemoryBroker:
    """Delivers synchronously to the handlers of this process, in publish order."""

    cross_process = False
    knows_audience = False

    def __init__(self) -> None:
        self._handlers = LocalHandlers()

    async def start(self) -> None:
        return None

    async def publish(self, channel: str, payload: bytes) -> None:
        await self._handlers.dispatch(channel, payload)

    async def publish_many(self, channel: str, payloads: list[bytes]) -> None:
        for payload in payloads:
            await self.publish(channel, payload)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        return self._handlers.add(channel, handler)

    def audience(self, channel: str) -> None:
        return None  # one process: its publisher is its audience

    async def listeners(self, channel: str) -> None:
        return None

    async def ping(self) -> None:
        return None

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        """Never called: there is no link to lose."""

    async def close(self) -> None:
        self._handlers.clear()
