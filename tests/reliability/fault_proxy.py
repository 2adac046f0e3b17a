"""A TCP proxy on loopback that a test puts between Roost and a service, to break the link at will.

``cut()`` closes every connection and refuses new ones (the service is down), ``blackhole()``
accepts and holds connections but forwards nothing in either direction (a dead network path),
``restore()`` forwards again. Run it in the test's event loop (``async with FaultProxy(...)``) or
in a thread of its own (``with ThreadedFaultProxy(...)``) when the test itself is synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 64 * 1024


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` unless told otherwise."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = "forward"
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        await self.cut()
        if self._handlers:  # their sockets are aborted, so they end by themselves
            await asyncio.wait(set(self._handlers), timeout=5)

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def cut(self) -> None:
        """The service is gone: close every connection and refuse new ones."""
        self.mode = "cut"
        self._flowing.set()  # connections held by a blackhole are dropped too, not left waiting
        await self._stop_listening()

    async def blackhole(self) -> None:
        """Accept connections and keep the open ones, but forward nothing either way."""
        self.mode = "blackhole"
        self._flowing.clear()
        if self._server is None:
            await self._listen()

    async def restore(self) -> None:
        self.mode = "forward"
        self._flowing.set()
        if self._server is None:
            await self._listen()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop_connections()  # wait_closed() waits for them on Python 3.12+
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()
            self._server = None

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # a blackholed connect waits here, answered by no one
            if writer.transport.is_closing():
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for end in (writer, up_writer):
            self._writers.discard(end)
            end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                writer.transport.abort()
                return
            await self._flowing.wait()  # blackholed: what was read is held back, never forwarded
            writer.write(data)
            await writer.drain()


class ThreadedFaultProxy:
    """A :class:`FaultProxy` on an event loop of its own, for synchronous tests."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._target = (target_host, target_port)
        self.proxy: FaultProxy | None = None

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _make(self) -> FaultProxy:
        return await FaultProxy(*self._target).start()

    def __enter__(self) -> ThreadedFaultProxy:
        self._thread.start()
        self.proxy = self._run(self._make())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proxy is not None
        self._run(self.proxy.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def port(self) -> int:
        assert self.proxy is not None
        return self.proxy.port

    def cut(self) -> None:
        assert self.proxy is not None
        self._run(self.proxy.cut())

    def blackhole(self) -> None:
        assert self.proxy is not None
        self._run(self.proxy.blackhole())

    def restore(self) -> None:
        assert self.proxy is not None
        self._run(self.proxy.restore())
