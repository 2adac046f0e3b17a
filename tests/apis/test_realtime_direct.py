"""An SSE stream served through the whole stack (``Roost(...).asgi``, with metrics and the
request log around it) gets the server's own ``send`` for its body frames, so the fan-out loop
can write a frame to a stream whose socket has room without waking the stream's task
(``roost.apis.realtime.sse._direct_writer``; about half the server CPU of a frame).

The server here is a stand-in with the two things the direct writer reads from uvicorn's
response cycle: its ``send`` is a bound method of the cycle, and the cycle has ``flow.write_paused``
and ``disconnected``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from roost.app import Roost
from roost.config import Config

SCOPE: dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
    "path": "/api/realtime", "raw_path": b"/api/realtime", "query_string": b"", "root_path": "",
    "headers": [(b"host", b"roost.test")], "client": ("127.0.0.1", 50000), "server": ("roost.test", 80),
}  # fmt: skip


class Cycle:
    """What the direct writer needs of uvicorn's ``RequestResponseCycle``."""

    def __init__(self) -> None:
        self.flow = SimpleNamespace(write_paused=False)
        self.disconnected = False
        self.bodies: list[bytes] = []
        self.hangup = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            self.bodies.append(message.get("body", b""))

    async def receive(self) -> dict[str, Any]:
        await self.hangup.wait()
        return {"type": "http.disconnect"}


async def test_a_stream_behind_the_whole_stack_writes_frames_directly(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path, metrics=True))
    assert server.app.metrics.enabled  # the metrics layer wraps send: the frames must go past it
    cycle = Cycle()
    stream = asyncio.create_task(server.asgi(dict(SCOPE), cycle.receive, cycle.send))
    try:
        async with asyncio.timeout(10):
            while not cycle.bodies:
                await asyncio.sleep(0.01)
        assert b"PB_CONNECT" in cycle.bodies[0]
        (client,) = server.app.realtime.clients.values()
        assert client.direct is not None
        # written at once by the caller, with no task switch in between
        assert client.direct("bench/x", b'{"n":1}') is True
        assert cycle.bodies[-1].endswith(b'event:bench/x\ndata:{"n":1}\n\n')
        # a full socket buffer: the frame is refused, and goes to the outbox instead
        cycle.flow.write_paused = True
        assert client.direct("bench/x", b'{"n":2}') is False
    finally:
        cycle.hangup.set()
        async with asyncio.timeout(10):
            await stream
        await server.asgi.stop()
