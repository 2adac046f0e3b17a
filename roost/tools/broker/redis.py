"""Redis pub/sub broker (``--redis-url``): fan-out across processes and machines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from roost.tools import redis_pool
from roost.tools.broker._local import LocalHandlers, ReconnectHandlers
from roost.tools.broker.base import BrokerError, MessageHandler, ReconnectHandler

log = logging.getLogger("roost.broker")
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
#: seconds to open a connection to Redis
CONNECT_TIMEOUT = 3.0


class RedisBroker:
    """One connection publishes, one subscribes; a reader task dispatches in arrival order."""

    cross_process = True
    knows_audience = False

    def __init__(self, url: str) -> None:
        self.url = url
        self._handlers = LocalHandlers()
        self._reconnects = ReconnectHandlers()
        self._client: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._client is not None:
            return
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - redis is a declared dependency
            raise BrokerError("the redis package is not installed") from exc
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # a dead network path fails a publish within seconds instead of hanging the request, and
        # one retry on a new connection replaces a pooled one that died while Redis was away
        # (otherwise the first event after Redis returns would be lost)
        self._client = redis_pool.client(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, retry=Retry(NoBackoff(), 1)
        )
        try:
            await self._client.ping()
        except (OSError, aioredis.RedisError) as exc:
            await self._client.aclose()
            self._client = None
            raise BrokerError(f"Cannot reach Redis at {self.url}: {exc}") from exc
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe("roost.__ready__")
        # called on every later connect of the subscription link: redis-py reconnects by itself
        # inside a read when Redis is back at once, so the read loop alone would miss short gaps
        self._pubsub.connection.register_connect_callback(self._reconnected)
        self._reader = asyncio.create_task(self._read_loop())

    def _reconnected(self, _connection: Any) -> None:
        self._reconnects.fire()

    async def publish(self, channel: str, payload: bytes) -> None:
        if self._client is None:
            raise BrokerError("broker not started")
        from redis.exceptions import RedisError

        try:
            await self._client.publish(channel, payload)
        except (OSError, RedisError) as exc:
            raise BrokerError(f"Redis publish failed: {exc}") from exc

    async def publish_many(self, channel: str, payloads: list[bytes]) -> None:
        if self._client is None:
            raise BrokerError("broker not started")
        from redis.exceptions import RedisError

        try:
            # one connection and one round trip, in order (no MULTI: nothing to make atomic)
            async with self._client.pipeline(transaction=False) as pipe:
                for payload in payloads:
                    pipe.publish(channel, payload)
                await pipe.execute()
        except (OSError, RedisError) as exc:
            raise BrokerError(f"Redis publish failed: {exc}") from exc

    def audience(self, channel: str) -> None:
        return None  # a count read from Redis would be out of date before the publish

    async def listeners(self, channel: str) -> int | None:
        if self._client is None:
            return None
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                [(_, count)] = await self._client.pubsub_numsub(channel)
        except (OSError, RedisError, TimeoutError, ValueError):
            return None
        return max(int(count) - (1 if self._handlers.has(channel) else 0), 0)

    async def ping(self) -> None:
        if self._client is None:
            raise BrokerError("broker not started")
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):  # a dead path must not hang the request
                await self._client.ping()
        except (OSError, RedisError, TimeoutError) as exc:
            raise BrokerError(f"Redis does not answer: {exc or type(exc).__name__}") from exc

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        self._reconnects.add(handler)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        first = not self._handlers.has(channel)
        remove = self._handlers.add(channel, handler)
        if first and self._pubsub is not None:
            await self._pubsub.subscribe(channel)

        async def unsubscribe() -> None:
            await remove()
            if not self._handlers.has(channel) and self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

        return unsubscribe

    async def _read_loop(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: resubscribe after a short back-off
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("redis broker connection lost (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe("roost.__ready__", *self._handlers.channels())
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            await self._handlers.dispatch(name, message["data"])

    async def close(self) -> None:
        self._closed = True
        self._reconnects.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
        self._handlers.clear()
