"""The embedded hub as a broker: fan-out between the worker processes of one ``roost serve``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from roost.tools.broker._local import LocalHandlers, ReconnectHandlers
from roost.tools.broker.base import BrokerError, MessageHandler, ReconnectHandler
from roost.tools.hub import HubClient, HubError
from roost.tools.hub import protocol as p


class HubBroker:
    """One hub connection; the hub sends each message once to every subscribed connection."""

    cross_process = True
    knows_audience = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._handlers = LocalHandlers()
        self._reconnects = ReconnectHandlers()
        self._client = HubClient(url, on_message=self._handlers.dispatch)
        self._client.on_connect = self._reconnects.fire
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        try:
            await self._client.connect()
        except HubError as exc:
            raise BrokerError(str(exc)) from exc
        self._started = True

    async def publish(self, channel: str, payload: bytes) -> None:
        await self.publish_many(channel, [payload])

    async def publish_many(self, channel: str, payloads: list[bytes]) -> None:
        # a frame each, written in order in one call, no reply awaited
        if not payloads:
            return
        name = channel.encode()
        try:
            await self._client.send_many([p.encode(p.PUBLISH, 0, name, payload) for payload in payloads])
        except HubError as exc:
            raise BrokerError(f"hub publish failed: {exc}") from exc

    async def subscribe(
        self, channel: str, handler: MessageHandler
    ) -> Callable[[], Awaitable[None]]:
        first = not self._handlers.has(channel)
        remove = self._handlers.add(channel, handler)
        if first:
            try:
                await self._client.subscribe(channel)
            except HubError as exc:  # resubscribed when the link comes back
                raise BrokerError(f"hub subscribe failed: {exc}") from exc

        async def unsubscribe() -> None:
            await remove()
            if not self._handlers.has(channel):
                await self._client.unsubscribe(channel)

        return unsubscribe

    def audience(self, channel: str) -> int | None:
        return self._client.audience(channel)

    async def listeners(self, channel: str) -> int | None:
        return self.audience(channel)  # known here, from the hub's own announcements

    async def ping(self) -> None:
        try:
            await self._client.request(p.PING)
        except HubError as exc:
            raise BrokerError(f"the hub does not answer: {exc}") from exc

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        self._reconnects.add(handler)

    async def close(self) -> None:
        self._reconnects.clear()
        await self._client.close()
        self._handlers.clear()
