"""The SSE stream of GET /api/realtime driven in-process through the full ASGI app.

Each stream gets a real ASGI ``receive``/``send`` pair: ``send`` records every message (and can
stop returning, like a peer whose socket buffer is full), ``receive`` reports a hang-up on demand.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roost.apis import build_asgi
from tests.conftest import Api

SCOPE: dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
    "path": "/api/realtime", "raw_path": b"/api/realtime", "query_string": b"", "root_path": "",
    "headers": [(b"host", b"roost.test"), (b"origin", b"http://app.test")],
    "client": ("127.0.0.1", 50000), "server": ("roost.test", 80),
}  # fmt: skip


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the stream is the same on every database


class Stream:
    """One open SSE connection; ``stall`` makes every body write after the first never finish."""

    def __init__(self, api: Api, *, stall: bool = False) -> None:
        self.asgi = build_asgi(api.app)
        self.stall = stall
        self.start: dict[str, Any] = {}
        self.bodies: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue()
        self.hangup = asyncio.Event()
        self.writes = 0
        self.task = asyncio.create_task(self.asgi(dict(SCOPE), self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        await self.hangup.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        self.writes += 1
        if self.stall and self.writes > 1:
            await asyncio.Event().wait()
        self.bodies.put_nowait((message.get("body", b""), bool(message.get("more_body", False))))

    async def frame(self) -> tuple[bytes, bool]:
        async with asyncio.timeout(10):
            return await self.bodies.get()

    async def client_id(self) -> str:
        body, _ = await self.frame()
        assert body.endswith(b"\n\n") and b"\nevent:PB_CONNECT\ndata:" in body
        return body.split(b"\n", 1)[0].removeprefix(b"id:").decode()

    async def ended(self) -> None:
        async with asyncio.timeout(10):
            await self.task


async def _bench_collection(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "items", "listRule": "", "fields": [{"name": "n", "type": "number"}]})
    assert res.status_code == 200, res.text


async def _subscribe(api: Api, client_id: str, *keys: str) -> None:
    res = await api.call("POST", "/api/realtime", json={"clientId": client_id, "subscriptions": list(keys)})
    assert res.status_code == 204, res.text


async def test_frames_carry_the_client_id_the_subscription_key_and_the_record(api: Api) -> None:
    await _bench_collection(api)
    stream = Stream(api)
    client_id = await stream.client_id()
    headers = dict(stream.start["headers"])
    assert headers[b"content-type"] == b"text/event-stream" and headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"access-control-allow-origin"] == b"*"
    await _subscribe(api, client_id, "items/*")
    res = await api.su("POST", "/api/collections/items/records", json={"n": 7})
    body, more = await stream.frame()
    assert more and body.startswith(f"id:{client_id}\nevent:items/*\ndata:".encode()) and body.endswith(b"\n\n")
    assert b'"action":"create"' in body and f'"id":"{res.json()["id"]}"'.encode() in body
    stream.hangup.set()
    await stream.ended()
    assert client_id not in api.app.realtime.clients


@pytest.mark.parametrize("limit", ["idle_timeout", "max_lifetime"])
async def test_an_idle_or_old_stream_ends_cleanly(api: Api, limit: str) -> None:
    hub = api.app.realtime
    setattr(hub, limit, 0.05)
    stream = Stream(api)
    client_id = await stream.client_id()
    await stream.ended()
    assert await stream.frame() == (b"", False)  # the closing chunk: the SDK reconnects
    assert client_id not in hub.clients and hub.dropped == 0


async def test_a_stalled_stream_is_dropped_and_the_others_keep_receiving(api: Api) -> None:
    await _bench_collection(api)
    hub = api.app.realtime
    hub.write_timeout = 0.1
    stalled, healthy = Stream(api, stall=True), Stream(api)
    for stream in (stalled, healthy):
        await _subscribe(api, await stream.client_id(), "items/*")
    for n in range(3):
        await api.su("POST", "/api/collections/items/records", json={"n": n})
    await stalled.ended()
    assert hub.dropped == 1 and stalled.bodies.empty()
    received = b""
    while received.count(b'"n":') < 3:  # events queued together arrive in one chunk
        received += (await healthy.frame())[0]
    assert [received.count(f'"n":{n}'.encode()) for n in range(3)] == [1, 1, 1]


async def test_shutdown_ends_every_stream_cleanly(api: Api) -> None:
    streams = [Stream(api) for _ in range(3)]
    for stream in streams:
        await stream.client_id()
    api.app.realtime.begin_shutdown()
    for stream in streams:
        await stream.ended()
        assert await stream.frame() == (b"", False)
    api.app.realtime.closing = False
