"""One worker's connection to the hub: requests with replies, and pushed pub/sub messages.

The connection opens on first use. When it breaks, pending requests fail with
:class:`HubError`, the next request reconnects, and a client with subscriptions reconnects by
itself in the background, subscribes again and calls ``on_connect`` (messages published
meanwhile are lost, as with Redis pub/sub).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

from roost.tools.hub import protocol as p

log = logging.getLogger("roost.hub")
#: seconds to wait for the hub to accept a connection or answer a request
TIMEOUT = 5.0
RECONNECT_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)

MessageSink = Callable[[str, bytes], Awaitable[None]]


class HubError(Exception):
    """The hub cannot be reached or refused an operation."""


def socket_path(url: str) -> str:
    """The socket path of a ``hub:///path`` URL."""
    if not url.startswith("hub://"):
        raise HubError(f"not a hub URL: {url.split('://')[0]}://")
    return url.removeprefix("hub://")


class HubClient:
    """Requests are pipelined on one connection; each waits for the reply with its id."""

    def __init__(self, url: str, *, on_message: MessageSink | None = None) -> None:
        self.path = socket_path(url)
        self._on_message = on_message
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[list[bytes]]] = {}
        self._ids = itertools.count(1)
        self._connecting = asyncio.Lock()
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self.channels: set[str] = set()
        #: called after a connection that replaced a lost one is up and resubscribed
        self.on_connect: Callable[[], None] | None = None
        self._closed = False
        self._had_connection = False
        #: listeners per channel on other connections, as the hub last said; None until its
        #: first frame on this connection arrived
        self._audience: dict[str, int] | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Open the connection unless it is open; raises :class:`HubError` when the hub is away."""
        if self.connected:
            return
        async with self._connecting:
            if self.connected:
                return
            if self._closed:
                raise HubError("hub client closed")
            try:
                async with asyncio.timeout(TIMEOUT):
                    reader, writer = await asyncio.open_unix_connection(
                        self.path, limit=p.MAX_FRAME
                    )
            except (OSError, TimeoutError) as exc:
                raise HubError(
                    f"cannot reach the hub at {self.path}: {exc or type(exc).__name__}"
                ) from exc
            self._writer = writer
            self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
            for channel in self.channels:
                writer.write(p.encode(p.SUBSCRIBE, next(self._ids), channel.encode()))
            again, self._had_connection = self._had_connection, True
            if again and self.on_connect is not None:
                self.on_connect()

    async def request(self, op: int, *fields: bytes) -> list[bytes]:
        """Send one request and return the fields of its reply."""
        await self.connect()
        assert self._writer is not None
        rid = next(self._ids) & 0xFFFFFFFF or 1
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            self._writer.write(p.encode(op, rid, *fields))
            async with asyncio.timeout(TIMEOUT):
                return await future
        except TimeoutError as exc:
            raise HubError("the hub did not answer in time") from exc
        finally:
            self._pending.pop(rid, None)

    async def send(self, op: int, *fields: bytes) -> None:
        """Send a request that has no reply (publish); raises :class:`HubError` when not sent."""
        await self.send_many([p.encode(op, 0, *fields)])

    async def send_many(self, frames: list[bytes]) -> None:
        """Send encoded frames that have no reply, in order and in one write (one system call)."""
        await self.connect()
        assert self._writer is not None
        try:
            self._writer.write(frames[0] if len(frames) == 1 else b"".join(frames))
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise HubError(f"hub connection lost: {exc}") from exc

    async def subscribe(self, channel: str) -> None:
        """Returns once the hub has the subscription and every other connection knows of it."""
        await self.connect()  # a first connection subscribes to no channel yet
        self.channels.add(channel)
        self._start_dispatcher()
        await self.request(p.SUBSCRIBE, channel.encode())

    def audience(self, channel: str) -> int | None:
        """How many other connections subscribe to ``channel`` now; None when not known (no
        connection yet, or it was lost). A message published while this is 0 reaches nobody."""
        if self._audience is None or not self.connected:
            return None
        return self._audience.get(channel, 0)

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)
        if self.connected:
            with contextlib.suppress(HubError):
                await self.request(p.UNSUBSCRIBE, channel.encode())

    def _start_dispatcher(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def _dispatch(self) -> None:
        # apart from the reader, so that a handler may itself make requests on this client
        while True:
            channel, payload = await self._inbox.get()
            if self._on_message is not None:
                await self._on_message(channel, payload)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                op, rid, fields = await p.read_frame(reader)
                if op == p.MESSAGE:
                    self._inbox.put_nowait((fields[0].decode(), fields[1]))
                    continue
                if op == p.AUDIENCE or op == p.HELLO:
                    self._take_audience(op, rid, fields)
                    continue
                future = self._pending.get(rid)
                if future is None or future.done():
                    continue
                if op == p.ERROR:
                    future.set_exception(HubError(fields[0].decode(errors="replace")))
                else:
                    future.set_result(fields)
        except (asyncio.IncompleteReadError, ConnectionError, p.ProtocolError) as exc:
            self._lost(exc)

    def _take_audience(self, op: int, rid: int, fields: list[bytes]) -> None:
        # taken in here, in the reader, before any later publish decision of this process
        if op == p.HELLO:
            self._audience = {fields[i].decode(): int(fields[i + 1]) for i in range(0, len(fields) - 1, 2)}
        elif self._audience is not None:
            self._audience[fields[0].decode()] = int(fields[1])
        if rid and self._writer is not None:
            self._writer.write(p.encode(p.ACK, rid))

    def _lost(self, exc: BaseException) -> None:
        self._audience = None
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(HubError(f"hub connection lost: {type(exc).__name__}"))
        if self._closed or not self.channels:
            return
        log.warning("hub connection lost; reconnecting")
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            if self._closed:
                return
            with contextlib.suppress(HubError):
                await self.connect()
                return

    async def close(self) -> None:
        self._closed = True
        for task in (self._reconnector, self._dispatcher, self._reader_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._writer is not None:
            self._writer.close()
            self._writer = None
