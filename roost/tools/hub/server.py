"""The hub: one asyncio server that the worker processes of one ``roost serve`` share.

It runs in the serving parent process, on a Unix socket only its user can open, and holds
what Redis holds for a cluster: pub/sub fan-out, and keys with expiry that are counted
atomically (each operation runs to completion on the hub's one event loop, so ``INCR`` from
many workers never loses an increment).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from roost.tools.hub import protocol as p

log = logging.getLogger("roost.hub")
#: bytes queued for one subscriber before it is cut off (it reconnects and resynchronises)
MAX_BACKLOG = 32 << 20
SWEEP_EVERY = 30.0
PREFIX = "roost-hub-"
#: a hub directory younger than this may belong to a hub that is still starting
STALE_AFTER = 60.0


class HubState:
    """Keys with optional expiry (monotonic seconds; 0 = none)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float]] = {}

    def live(self, key: str) -> bytes | None:
        item = self.data.get(key)
        if item is None:
            return None
        if item[1] and item[1] <= time.monotonic():
            del self.data[key]
            return None
        return item[0]

    def put(self, key: str, value: bytes, ttl: float, keep_expiry: bool = False) -> None:
        if keep_expiry and key in self.data:
            self.data[key] = (value, self.data[key][1])
        else:
            self.data[key] = (value, time.monotonic() + ttl if ttl > 0 else 0.0)

    def incr(self, key: str, amount: int, ttl: float) -> int:
        """Add ``amount``; the first increment opens a ``ttl`` window (a fixed window)."""
        current = self.live(key)
        count = (int(current) if current is not None else 0) + amount
        self.put(key, str(count).encode(), ttl, keep_expiry=current is not None)
        return count

    def remaining(self, key: str) -> float:
        """Seconds until ``key`` expires; 0 when missing or without expiry."""
        if self.live(key) is None:
            return 0.0
        expires = self.data[key][1]
        return max(0.0, expires - time.monotonic()) if expires else 0.0

    def sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self.data.items() if exp and exp <= now]:
            del self.data[key]


class Hub:
    """The server side: connections, their subscriptions, and the shared :class:`HubState`."""

    def __init__(self) -> None:
        self.state = HubState()
        self._subscribers: dict[str, set[asyncio.StreamWriter]] = {}
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        #: messages for each subscriber since the last write to it: a worker's publishes arrive
        #: many to a read and leave in one write per subscriber (see _publish)
        self._outbox: dict[asyncio.StreamWriter, list[bytes]] = {}
        #: subscriptions answered once every other connection has taken in its new audience
        #: (see _announce): token -> (connections yet to ACK, the subscriber, the channel, the
        #: ids of the subscriber's requests to answer then)
        self._waiting: dict[int, tuple[set[asyncio.StreamWriter], asyncio.StreamWriter, str, list[int]]] = {}
        self._tokens = itertools.count(1)

    async def start(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        old = os.umask(0o177)  # the socket is created 0600: only this user's processes connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path, limit=p.MAX_FRAME)
        finally:
            os.umask(old)
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        """Stop listening, end every connection and wait for their tasks (a pending task left to
        the garbage collector logs an error at a random later point)."""
        if self._server is not None:
            self._server.close()
            for writer in self._connections:
                writer.close()
            self._subscribers.clear()
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            self.state.sweep()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channels: set[str] = set()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._connections.add(writer)
        writer.write(self._hello())
        try:
            while True:
                op, rid, fields = await p.read_frame(reader)
                if op == p.PUBLISH:
                    self._publish(fields[0].decode(), fields[1])
                    continue
                if op == p.ACK:
                    self._acked(rid, writer)
                    continue
                if op == p.SUBSCRIBE:
                    channel = fields[0].decode()
                    channels.add(channel)
                    subscribers = self._subscribers.setdefault(channel, set())
                    if writer not in subscribers:
                        subscribers.add(writer)
                        if self._announce(channel, writer, rid):
                            continue  # answered when every other connection has acknowledged
                    elif self._join_announcement(channel, writer, rid):
                        continue  # a repeated subscription is answered with the first
                    reply: list[bytes] = []
                elif op == p.UNSUBSCRIBE:
                    channels.discard(fields[0].decode())
                    self._unsubscribe(fields[0].decode(), writer)
                    reply = []
                else:
                    try:
                        reply = self._operate(op, fields)
                    except (ValueError, IndexError, KeyError) as exc:
                        self._send_outbox(writer)
                        writer.write(p.encode(p.ERROR, rid, f"bad request: {exc}".encode()))
                        continue
                self._send_outbox(writer)  # what was published before this request comes first
                writer.write(p.encode(p.REPLY, rid, *reply))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, p.ProtocolError):
            pass
        finally:
            self._connections.discard(writer)
            for channel in channels:
                self._unsubscribe(channel, writer)
            self._outbox.pop(writer, None)
            for token in list(self._waiting):
                self._acked(token, writer)
            writer.close()

    def _unsubscribe(self, channel: str, writer: asyncio.StreamWriter) -> None:
        writers = self._subscribers.get(channel)
        if writers is None or writer not in writers:
            return
        writers.discard(writer)
        if not writers:
            del self._subscribers[channel]
        for other in self._connections:
            if other is not writer and not other.is_closing():
                other.write(p.encode(p.AUDIENCE, 0, channel.encode(), p.number(self._audience(channel, other))))

    # ----- audiences: a worker publishes on a channel only while another one listens ----------
    def _audience(self, channel: str, writer: asyncio.StreamWriter) -> int:
        """How many connections other than ``writer`` subscribe to ``channel``."""
        writers = self._subscribers.get(channel, ())
        return len(writers) - (writer in writers)

    def _hello(self) -> bytes:
        pairs = [part for name, writers in self._subscribers.items() for part in (name.encode(), p.number(len(writers)))]
        return p.encode(p.HELLO, 0, *pairs)

    def _announce(self, channel: str, subscriber: asyncio.StreamWriter, rid: int) -> bool:
        """Tell every other connection that ``channel`` has one more listener, and hold the
        subscriber's reply until each has acknowledged: a publisher that skips a channel without
        listeners then publishes everything it commits after the subscription is answered.
        False when there is nobody to tell (answer at once)."""
        others = {w for w in self._connections if w is not subscriber and not w.is_closing()}
        if not others:
            return False
        token = next(self._tokens) & 0xFFFFFFFF or 1
        self._waiting[token] = (others, subscriber, channel, [rid])
        for other in others:
            other.write(p.encode(p.AUDIENCE, token, channel.encode(), p.number(self._audience(channel, other))))
        return True

    def _join_announcement(self, channel: str, subscriber: asyncio.StreamWriter, rid: int) -> bool:
        for _, holder, name, rids in self._waiting.values():
            if holder is subscriber and name == channel:
                rids.append(rid)
                return True
        return False

    def _acked(self, token: int, writer: asyncio.StreamWriter) -> None:
        entry = self._waiting.get(token)
        if entry is None:
            return
        pending, subscriber, _, rids = entry
        pending.discard(writer)
        if pending and subscriber is not writer:
            return
        del self._waiting[token]
        if subscriber is not writer and not subscriber.is_closing():
            self._send_outbox(subscriber)
            subscriber.write(b"".join(p.encode(p.REPLY, rid) for rid in rids))

    def _publish(self, channel: str, payload: bytes) -> None:
        frame = p.encode(p.MESSAGE, 0, channel.encode(), payload)
        for writer in list(self._subscribers.get(channel, ())):
            if writer.transport.get_write_buffer_size() > MAX_BACKLOG:
                log.warning(
                    "hub subscriber too slow, disconnected (it resubscribes and resynchronises)"
                )
                writer.close()
                self._unsubscribe(channel, writer)
                continue
            queued = self._outbox.get(writer)
            if queued is not None:
                queued.append(frame)
                continue
            if not self._outbox:
                # after the frames already read: the publisher's batch arrives in one read
                asyncio.get_running_loop().call_soon(self._send_outboxes)
            self._outbox[writer] = [frame]

    def _send_outboxes(self) -> None:
        for writer in list(self._outbox):
            self._send_outbox(writer)

    def _send_outbox(self, writer: asyncio.StreamWriter) -> None:
        frames = self._outbox.pop(writer, None)
        if frames and not writer.is_closing():
            writer.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def _operate(self, op: int, fields: list[bytes]) -> list[bytes]:
        state = self.state
        key = fields[0].decode() if fields else ""
        if op == p.PING:
            return []
        if op == p.GET:
            value = state.live(key)
            return [] if value is None else [value]
        if op == p.GET_MANY:
            return [b"" if (v := state.live(k.decode())) is None else b"\x01" + v for k in fields]
        if op == p.SET:
            state.put(key, fields[1], float(fields[2]))
            return []
        if op == p.ADD:
            if state.live(key) is not None:
                return [b"0"]
            state.put(key, fields[1], float(fields[2]))
            return [b"1"]
        if op == p.DELETE:
            state.data.pop(key, None)
            return []
        if op == p.DELETE_PREFIX:
            for name in [k for k in state.data if k.startswith(key)]:
                del state.data[name]
            return []
        if op == p.INCR:
            return [p.number(state.incr(key, int(fields[1]), float(fields[2])))]
        if op == p.INCR_EXISTING:
            current = state.live(key)
            return [] if current is None else [p.number(state.incr(key, 1, 0))]
        if op == p.EXPIRY:
            return [p.number(state.remaining(key))]
        raise ValueError(f"unknown operation {op}")


class HubThread:
    """A :class:`Hub` on its own event loop in a daemon thread of the serving parent process,
    whose main thread belongs to the worker supervisor. The socket lives in a new private
    temporary directory (a data dir path may be too long for a Unix socket, or shared)."""

    def __init__(self) -> None:
        remove_stale_hubs()
        self.directory = tempfile.mkdtemp(prefix=PREFIX)  # mode 0700
        self.path = str(Path(self.directory) / "hub.sock")
        self.counters = Path(self.directory) / p.COUNTERS_FILE
        fd = os.open(self.counters, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, os.urandom(p.COUNTER_PAGE_BYTES))
        finally:
            os.close(fd)
        self._loop = asyncio.new_event_loop()
        self._hub = Hub()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="roost-hub", daemon=True)

    @property
    def url(self) -> str:
        return "hub://" + self.path

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError(f"the hub could not start: {self._failure}") from self._failure

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._hub.start(self.path))
        except BaseException as exc:  # reported to start()
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._hub.close())
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        for path in (self.path, self.counters):
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(self.directory)


def remove_stale_hubs() -> None:
    """Remove the directories of hubs whose server was killed (SIGKILL skips the cleanup): this
    user's, older than a minute, whose socket no longer accepts a connection."""
    root = Path(tempfile.gettempdir())
    for directory in root.glob(PREFIX + "*"):
        try:
            info = directory.stat()
            if info.st_uid != os.getuid() or time.time() - info.st_mtime < STALE_AFTER:
                continue
            sock = directory / "hub.sock"
            if sock.exists() and _accepts(str(sock)):
                continue
            for path in (sock, directory / p.COUNTERS_FILE):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            directory.rmdir()
        except OSError:
            continue


def _accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True
