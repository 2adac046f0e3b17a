"""PostgreSQL LISTEN/NOTIFY broker: fan-out without Redis when the database is PostgreSQL.

NOTIFY payloads are limited to 8000 bytes, so larger messages travel base64-encoded in
numbered chunks that the receiving side reassembles. Every message is prefixed with one
marker byte: ``=`` for a whole payload, ``#`` for a chunk.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from roost.tools.broker._local import LocalHandlers, ReconnectHandlers
from roost.tools.broker.base import BrokerError, MessageHandler, ReconnectHandler

log = logging.getLogger("roost.broker")
MAX_PAYLOAD = 7800
CHUNK = 6000
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
#: seconds a ping may take before the broker counts as unreachable
CONNECT_TIMEOUT = 3.0


def encode_messages(payload: bytes) -> list[str]:
    """The NOTIFY payloads that carry ``payload`` (one unless it is large or not UTF-8)."""
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text and len(payload) <= MAX_PAYLOAD:
        return ["=" + text]
    data = base64.b64encode(payload).decode()
    parts = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    message_id = secrets.token_hex(6)
    return [f"#{message_id}:{n}:{len(parts)}:{part}" for n, part in enumerate(parts)]


class Reassembler:
    """Joins chunked messages; incomplete ones are dropped after ``limit`` newer messages."""

    def __init__(self, limit: int = 64) -> None:
        self._partial: dict[str, list[str | None]] = {}
        self.limit = limit

    def feed(self, text: str) -> bytes | None:
        if text.startswith("="):
            return text[1:].encode()
        if not text.startswith("#"):
            return None
        message_id, index, total, part = text[1:].split(":", 3)
        parts = self._partial.setdefault(message_id, [None] * int(total))
        parts[int(index)] = part
        if any(p is None for p in parts):
            while len(self._partial) > self.limit:
                self._partial.pop(next(iter(self._partial)))
            return None
        del self._partial[message_id]
        return base64.b64decode("".join(p or "" for p in parts))


#: one statement sends a batch of NOTIFYs, in array order
NOTIFY_MANY = "SELECT pg_notify(c, m) FROM unnest($1::text[], $2::text[]) AS t(c, m)"
#: messages per NOTIFY statement at most
BATCH = 200


#: a queued publish: its channel, its NOTIFY payloads, and the future its publisher awaits
Queued = tuple[str, list[str], "asyncio.Future[None]"]


def _take_batch(outbox: list[Queued]) -> list[Queued]:
    """The publishes at the head of ``outbox`` that go out in one statement: in order, at most
    ``BATCH`` messages, and no (channel, message) pair twice, since PostgreSQL delivers one of
    two identical notifications of a transaction."""
    batch: list[Queued] = []
    seen: set[tuple[str, str]] = set()
    count = 0
    for channel, messages, done in outbox:
        pairs = {(channel, m) for m in messages}
        if batch and (count + len(messages) > BATCH or pairs & seen or len(pairs) < len(messages)):
            break
        batch.append((channel, messages, done))
        seen |= pairs
        count += len(messages)
    del outbox[: len(batch)]
    return batch


def _retrieve(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()


class PostgresBroker:
    """One connection LISTENs, one NOTIFYs.

    Publishes queue in order; one task sends them, and the publishes that arrived while a
    statement was in flight leave together in the next one (one round trip for many writes
    under load, none added when idle). Each publish returns once its messages are sent.
    """

    cross_process = True
    knows_audience = False

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._handlers = LocalHandlers()
        self._reconnects = ReconnectHandlers()
        self._listen: Any = None
        self._notify: Any = None
        self._lock = asyncio.Lock()
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._reassembler = Reassembler()
        self._closed = False
        self._outbox: list[Queued] = []
        self._sender: asyncio.Task[None] | None = None

    async def _connect(self) -> Any:
        import asyncpg

        try:
            return await asyncpg.connect(self.dsn, timeout=10)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise BrokerError(f"Cannot reach PostgreSQL for LISTEN/NOTIFY: {exc}") from exc

    async def start(self) -> None:
        if self._listen is not None:
            return
        self._listen = await self._connect()
        self._notify = await self._connect()
        self._listen.add_termination_listener(self._on_terminated)
        self._reader = asyncio.create_task(self._read_loop())

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._inbox.put_nowait((channel, payload))

    def _on_terminated(self, _conn: Any) -> None:
        if not self._closed:
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for attempt in range(1000):
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            if self._closed:
                return
            try:
                conn = await self._connect()
                for channel in self._handlers.channels():
                    await conn.add_listener(channel, self._on_notify)
            except (BrokerError, OSError) as exc:
                log.warning("postgres broker reconnect failed: %s", exc)
                continue
            conn.add_termination_listener(self._on_terminated)
            self._listen = conn
            self._reconnects.fire()
            return

    async def publish(self, channel: str, payload: bytes) -> None:
        await self._queue(channel, payload)

    async def publish_many(self, channel: str, payloads: list[bytes]) -> None:
        # queued together, they leave in the same statement(s), each with its own future so that
        # the batching keeps two identical messages out of one statement
        if payloads:
            await self._queue(channel, *payloads)

    async def _queue(self, channel: str, *payloads: bytes) -> None:
        if self._notify is None or self._closed:
            raise BrokerError("broker not started")
        loop = asyncio.get_running_loop()
        waiting: list[asyncio.Future[None]] = []
        for payload in payloads:
            done: asyncio.Future[None] = loop.create_future()
            # a cancelled publisher's failure is not an unhandled error
            done.add_done_callback(_retrieve)
            self._outbox.append((channel, encode_messages(payload), done))
            waiting.append(done)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_queued())
        # the messages are queued: a publisher that is cancelled now does not take them back
        # (the sender skips a cancelled future but still sends its messages)
        for done in waiting:
            await done

    async def _send_queued(self) -> None:
        while self._outbox:
            batch = _take_batch(self._outbox)
            channels = [channel for channel, messages, _ in batch for _ in messages]
            messages = [message for _, group, _ in batch for message in group]
            try:
                async with self._lock:
                    if self._notify is None:
                        raise BrokerError("broker closed")
                    if self._notify.is_closed():
                        self._notify = await self._connect()
                    await self._notify.execute(NOTIFY_MANY, channels, messages)
            except BaseException as exc:
                cancelled = isinstance(exc, asyncio.CancelledError)
                failure: BaseException = exc
                if cancelled:
                    failure = BrokerError("broker closed")
                elif isinstance(exc, OSError):
                    failure = BrokerError(f"NOTIFY failed: {exc}")
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(failure)
                if cancelled:
                    self._fail_queued(BrokerError("broker closed"))
                    raise
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _fail_queued(self, failure: Exception) -> None:
        for _, _, done in self._outbox:
            if not done.done():
                done.set_exception(failure)
        self._outbox.clear()

    def audience(self, channel: str) -> None:
        return None  # a count read from PostgreSQL would be out of date before the NOTIFY

    async def listeners(self, channel: str) -> None:
        return None

    async def ping(self) -> None:
        if self._notify is None:
            raise BrokerError("broker not started")
        import asyncpg

        async with self._lock:
            try:
                if self._notify.is_closed():
                    self._notify = await self._connect()
                await self._notify.execute("SELECT 1", timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise BrokerError(f"PostgreSQL does not answer for LISTEN/NOTIFY: {exc}") from exc

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        self._reconnects.add(handler)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        first = not self._handlers.has(channel)
        remove = self._handlers.add(channel, handler)
        if first and self._listen is not None:
            await self._listen.add_listener(channel, self._on_notify)

        async def unsubscribe() -> None:
            await remove()
            if not self._handlers.has(channel) and self._listen is not None:
                with contextlib.suppress(Exception):
                    await self._listen.remove_listener(channel, self._on_notify)

        return unsubscribe

    async def _read_loop(self) -> None:
        while True:
            channel, text = await self._inbox.get()
            payload = self._reassembler.feed(text)
            if payload is not None:
                await self._handlers.dispatch(channel, payload)

    async def close(self) -> None:
        self._closed = True
        self._reconnects.clear()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        self._fail_queued(BrokerError("broker closed"))
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for conn in (self._listen, self._notify):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._listen = self._notify = None
        self._handlers.clear()
