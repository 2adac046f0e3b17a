"""R13: realtime subscribers that never read are dropped once their outbox is full; they never
hold back the subscribers that do read, and the server stays responsive."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx

from tests.reliability.procs import RoostProcess

SLOW = 8
EVENTS = 800  # more than a subscriber's outbox (512) plus the socket buffers can hold
PAYLOAD = "x" * 16_000
BATCH = 50


def _slow_subscriber(base_url: str) -> socket.socket:
    """An SSE client that reads its client id, subscribes, and then never reads again."""
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /api/realtime HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    head = b""
    while b'"clientId"' not in head:
        head += sock.recv(1024)
    client_id = json.loads(head.split(b"data:", 1)[1].split(b"\n", 1)[0])["clientId"]
    res = httpx.post(f"{base_url}/api/realtime", json={"clientId": client_id, "subscriptions": ["items"]})
    assert res.status_code == 204, res.text
    return sock


def _dropped(sock: socket.socket) -> bool:
    """Drain what the kernel holds; True when the server has closed the stream."""
    sock.settimeout(15)
    try:
        while sock.recv(1 << 20):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def _reader(base_url: str, got: list[str], ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http, http.stream("GET", "/api/realtime") as res:
        name = ""
        async for line in res.aiter_lines():
            if line.startswith("event:"):
                name = line[6:]
            elif line.startswith("data:") and name == "PB_CONNECT":
                client_id = json.loads(line[5:])["clientId"]
                sub = await http.post("/api/realtime", json={"clientId": client_id, "subscriptions": ["items"]})
                assert sub.status_code == 204
                ready.set()
            elif line.startswith("data:") and name == "items":
                got.append(json.loads(line[5:])["record"]["id"])
                if len(got) == EVENTS:
                    return


async def test_slow_subscribers_are_dropped_and_do_not_hold_back_the_others(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path)
    proc.start()
    slow: list[socket.socket] = []
    try:
        su = {"Authorization": proc.superuser_token()}
        body = {"name": "items", "listRule": "", "viewRule": "", "createRule": "", "fields": [{"name": "text", "type": "text", "max": 100000}]}
        assert httpx.post(f"{proc.base_url}/api/collections", json=body, headers=su).status_code == 200
        assert httpx.patch(f"{proc.base_url}/api/settings", json={"batch": {"enabled": True, "maxRequests": BATCH}}, headers=su).status_code == 200
        for _ in range(SLOW):
            slow.append(await asyncio.to_thread(_slow_subscriber, proc.base_url))
        got: list[str] = []
        ready = asyncio.Event()
        reader = asyncio.create_task(_reader(proc.base_url, got, ready))
        await asyncio.wait_for(ready.wait(), timeout=20)
        async with httpx.AsyncClient(base_url=proc.base_url, timeout=60) as http:
            for _ in range(EVENTS // BATCH):
                reqs = [{"method": "POST", "url": "/api/collections/items/records", "body": {"text": PAYLOAD}}] * BATCH
                res = await http.post("/api/batch", json={"requests": reqs})
                assert res.status_code == 200, res.text[:300]
            assert (await http.get("/api/health")).status_code == 200
        await asyncio.wait_for(reader, timeout=120)
        assert len(got) == len(set(got)) == EVENTS
        drops = await asyncio.gather(*(asyncio.to_thread(_dropped, sock) for sock in slow))
        assert all(drops), f"{drops.count(False)} of {SLOW} stalled subscribers still connected"
    finally:
        for sock in slow:
            sock.close()
        proc.stop()
