"""Realtime across processes, and a stalled subscriber that must not delay the others.

Two ``roost serve`` processes share one PostgreSQL schema; a write on A reaches an SSE subscriber
on B, through Redis and again through LISTEN/NOTIFY. The collection itself is created on A, so B
also proves that collection changes travel through the broker.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .pairs import BROKERS, instance_pair
from .servers import LiveServer


@pytest.fixture(params=BROKERS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with instance_pair(tmp_path, request.param) as servers:
        yield servers


async def _sse(base_url: str, frames: list[tuple[float, str, str]], ready: asyncio.Future[str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=None) as http, http.stream("GET", "/api/realtime") as res:
        buffer = ""
        async for chunk in res.aiter_text():
            buffer += chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                lines = dict(line.split(":", 1) for line in frame.splitlines())
                if lines.get("event") == "PB_CONNECT":
                    ready.set_result(lines["id"])
                else:
                    frames.append((time.monotonic(), lines["event"], lines["data"]))


async def _subscribe(
    base_url: str, topics: list[str], frames: list[Any], token: str = "", via: str = ""
) -> asyncio.Task[None]:
    """Open a stream on ``base_url`` and send the subscribe POST to ``via`` (default: the same)."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_sse(base_url, frames, ready))
    client_id = await asyncio.wait_for(ready, 10)
    async with httpx.AsyncClient(base_url=via or base_url, headers={"Authorization": token} if token else {}) as http:
        res = await http.post("/api/realtime", json={"clientId": client_id, "subscriptions": topics})
        assert res.status_code == 204, res.text
    return task


def test_a_write_on_one_instance_reaches_a_subscriber_on_another(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    token = a.superuser_token()

    async def scenario() -> list[Any]:
        async with httpx.AsyncClient(base_url=a.base_url, headers={"Authorization": token}) as http:
            res = await http.post("/api/collections", json={"name": "cluster_items", "listRule": "",
                                                             "fields": [{"name": "n", "type": "number"}]})
            assert res.status_code == 200, res.text
            await asyncio.sleep(0.5)  # B reloads its collection cache from the broker's signal
            frames: list[Any] = []
            task = await _subscribe(b.base_url, ["cluster_items/*"], frames)
            started = time.monotonic()
            res = await http.post("/api/collections/cluster_items/records", json={"n": 7})
            assert res.status_code == 200, res.text
            deadline = time.monotonic() + 10
            while not frames and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            task.cancel()
            return [(at - started, name, data) for at, name, data in frames]

    frames = asyncio.run(scenario())
    assert len(frames) == 1, frames
    delay, name, data = frames[0]
    assert name == "cluster_items/*" and '"n":7' in data and '"action":"create"' in data
    assert delay < 2.0


def test_a_subscribe_sent_to_the_instance_without_the_stream_still_subscribes(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    token = a.superuser_token()

    async def scenario() -> list[Any]:
        async with httpx.AsyncClient(headers={"Authorization": token}) as http:
            res = await http.post(f"{a.base_url}/api/collections", json={
                "name": "routed_items", "listRule": "@request.auth.id != ''", "fields": [{"name": "n", "type": "number"}]
            })  # fmt: skip
            assert res.status_code == 200, res.text
            await asyncio.sleep(0.5)  # B reloads its collection cache from the broker's signal
            frames: list[Any] = []
            task = await _subscribe(a.base_url, ["routed_items/*"], frames, token=token, via=b.base_url)
            for n, instance in enumerate((a, b)):
                res = await http.post(f"{instance.base_url}/api/collections/routed_items/records", json={"n": n})
                assert res.status_code == 200, res.text
            deadline = time.monotonic() + 10
            while len(frames) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            task.cancel()
            return frames

    frames = asyncio.run(scenario())
    assert [name for _, name, _ in frames] == ["routed_items/*", "routed_items/*"]
    assert sorted('"n":1' in data for _, _, data in frames) == [False, True]  # A's and B's write


def test_a_stalled_subscriber_does_not_delay_the_others(fresh_server: Any) -> None:
    """One client stops reading; the healthy client's delivery gap stays small for every event."""
    live = fresh_server("roost")
    token = live.superuser_token()
    count, size = 200, 16_000
    host, port = live.base_url.removeprefix("http://").split(":")

    async def scenario() -> tuple[list[float], bytes]:
        async with httpx.AsyncClient(base_url=live.base_url, headers={"Authorization": token}, timeout=30) as http:
            res = await http.post("/api/collections", json={"name": "slow_items", "listRule": "",
                                                             "fields": [{"name": "text", "type": "text", "max": 100000}]})
            assert res.status_code == 200, res.text
            stalled = socket.create_connection((host, int(port)))
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(f"GET /api/realtime HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = stalled.recv(4096).decode()
            stalled_id = head.split("id:", 1)[1].split("\n", 1)[0]
            await http.post("/api/realtime", json={"clientId": stalled_id, "subscriptions": ["slow_items/*"]})
            frames: list[Any] = []
            task = await _subscribe(live.base_url, ["slow_items/*"], frames)
            sent: list[float] = []
            for n in range(count):
                sent.append(time.monotonic())
                res = await http.post("/api/collections/slow_items/records", json={"text": f"{n:05d}" + "x" * size})
                assert res.status_code == 200
            deadline = time.monotonic() + 20
            while len(frames) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            task.cancel()
            stalled.setblocking(False)
            return [at - sent[int(data.split('"text":"', 1)[1][:5])] for at, _, data in frames], b""

    gaps, _ = asyncio.run(scenario())
    assert len(gaps) == count, f"healthy client got {len(gaps)} of {count} events"
    gaps.sort()
    p50, p99 = gaps[len(gaps) // 2], gaps[int(len(gaps) * 0.99) - 1]
    print(f"delivery gap with a stalled peer: p50={p50 * 1000:.1f} ms p99={p99 * 1000:.1f} ms max={gaps[-1] * 1000:.1f} ms")
    assert p99 < 0.5 and gaps[-1] < 1.0


def test_a_settings_change_on_one_instance_is_used_by_the_other(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    token = a.superuser_token()
    batch = {"requests": [{"method": "POST", "url": "/api/collections/users/records",
                           "body": {"email": "batch@example.com", "password": "password123", "passwordConfirm": "password123"}}]}
    with httpx.Client(headers={"Authorization": token}, timeout=10) as http:
        assert http.post(f"{b.base_url}/api/batch", json=batch).status_code == 403
        res = http.patch(f"{a.base_url}/api/settings", json={"batch": {"enabled": True}})
        assert res.status_code == 200, res.text
        deadline = time.monotonic() + 5
        while (res := http.post(f"{b.base_url}/api/batch", json=batch)).status_code == 403 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert res.status_code == 200, res.text


def test_an_api_key_subscription_routed_to_another_instance_keeps_its_principal_until_revoked(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    su = {"Authorization": a.superuser_token()}

    async def scenario() -> list[Any]:
        async with httpx.AsyncClient(headers=su) as http:
            res = await http.post(f"{a.base_url}/api/collections", json={
                "name": "keyed_items", "listRule": '@request.auth.collectionName = "_apiKeys" && @request.auth.name = "feed"',
                "fields": [{"name": "n", "type": "number"}],
            })  # fmt: skip
            assert res.status_code == 200, res.text
            created = (await http.post(f"{a.base_url}/api/keys", json={"name": "feed", "scopes": ["keyed_items:list"]})).json()
            key = created["key"]
            await asyncio.sleep(0.5)  # B reloads its collection cache from the broker's signal
            frames: list[Any] = []
            task = await _subscribe(a.base_url, ["keyed_items/*"], frames, token=f"Bearer {key}", via=b.base_url)
            res = await http.post(f"{b.base_url}/api/collections/keyed_items/records", json={"n": 7})
            assert res.status_code == 200, res.text
            deadline = time.monotonic() + 10
            while not frames and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            # revoking the key on B ends the stream A holds for it
            assert (await http.delete(f"{b.base_url}/api/keys/{created['id']}")).status_code == 204
            await asyncio.wait_for(task, 10)
            return frames

    frames = asyncio.run(scenario())
    assert [name for _, name, _ in frames] == ["keyed_items/*"] and '"n":7' in frames[0][2]
