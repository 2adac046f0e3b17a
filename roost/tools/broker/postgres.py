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


class PostgresBroker:
    """One connection LISTENs, one NOTIFYs (serialised so one publisher's order is kept)."""

    cross_process = True

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
        if self._notify is None:
            raise BrokerError("broker not started")
        async with self._lock:
            try:
                if self._notify.is_closed():
                    self._notify = await self._connect()
                for message in encode_messages(payload):
                    await self._notify.execute("SELECT pg_notify($1, $2)", channel, message)
            except OSError as exc:
                raise BrokerError(f"NOTIFY failed: {exc}") from exc

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
