"""Redis goes away under ``--workers 2`` and comes back (issue 9, defect 7; row R9).

The workers reach Redis through a fault proxy the test starts. While Redis is cut, a new realtime
subscription never answers 500: the worker holding the stream accepts it (its own events still
reach it) and another worker, which cannot ask the holder, answers 503 with ``Retry-After``.
REST keeps working. Once Redis is back, events cross from one worker to the other again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import LiveServer
from tests.reliability.fault_proxy import ThreadedFaultProxy
from tests.roost_process import roost_process
from tests.sse import sse_frames

WAIT = 15.0
ITEMS = "/api/collections/items/records"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[LiveServer, ThreadedFaultProxy]]:
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    target = urlsplit(REDIS_URL)
    with ThreadedFaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        redis_url = f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"
        flags = ("--workers", "2", "--redis-url", redis_url)
        with roost_process(tmp_path, *flags, env={"ROOST_INSTANCE_ID": "auto"}) as server:
            yield server, proxy


class Subscriber:
    """One SSE stream: the worker that holds it, and the events it got."""

    def __init__(self) -> None:
        self.instance = ""
        self.events: list[dict[str, Any]] = []
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def run(self, base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT, read=None)) as http, \
                http.stream("GET", "/api/realtime") as res:  # fmt: skip
            self.instance = res.headers.get("x-roost-instance", "")
            async for lines in sse_frames(res):
                if lines.get("event") == "PB_CONNECT":
                    self.ready.set_result(lines["id"])
                elif "event" in lines:
                    self.events.append(json.loads(lines["data"]))


async def _subscribe(http: httpx.AsyncClient, tasks: list[asyncio.Task[None]]) -> tuple[Subscriber, httpx.Response]:
    """Open a stream and send its subscribe POST (a worker chosen by the kernel answers it)."""
    sub = Subscriber()
    tasks.append(asyncio.create_task(sub.run(str(http.base_url))))
    client_id = await asyncio.wait_for(sub.ready, WAIT)
    res = await http.post("/api/realtime", json={"clientId": client_id, "subscriptions": ["items/*"]})
    return sub, res


async def _create(http: httpx.AsyncClient, su: str, n: int) -> httpx.Response:
    deadline = time.monotonic() + WAIT
    while True:  # the other worker may still be loading the new collection
        # a new connection each time, so the kernel spreads the writes over both workers
        res = await http.post(ITEMS, json={"n": n}, headers={"Authorization": su, "Connection": "close"})
        if res.status_code != 404 or time.monotonic() > deadline:
            return res
        await asyncio.sleep(0.1)


async def _during_outage(http: httpx.AsyncClient, su: str, tasks: list[asyncio.Task[None]]) -> None:
    answers = []
    for _ in range(8):
        try:
            _, res = await _subscribe(http, tasks)
        except httpx.TimeoutException:
            pytest.fail(f"a realtime subscription hung for {WAIT} s while Redis was cut")
        answers.append(res.status_code)
        assert res.status_code in (204, 503), res.text
        if res.status_code == 503:
            assert res.json()["status"] == 503 and int(res.headers["retry-after"]) > 0, res.text
    assert 204 in answers, answers  # the worker holding a stream always accepts it
    for n in range(3):
        res = await _create(http, su, n)
        assert res.status_code == 200, res.text


async def _cross_worker_event(http: httpx.AsyncClient, su: str, tasks: list[asyncio.Task[None]]) -> None:
    """Once Redis is back, records written on the other worker reach a new subscriber again.

    Pub/sub keeps nothing for a subscriber that is still reconnecting, so writes go on until
    one from the other worker arrives (or the bound passes).
    """
    deadline = time.monotonic() + WAIT
    while True:
        sub, res = await _subscribe(http, tasks)
        if res.status_code == 204 or time.monotonic() > deadline:
            break
    assert res.status_code == 204, res.text
    remote: set[int] = set()
    deadline = time.monotonic() + 2 * WAIT
    for n in range(100, 1000):
        created = await _create(http, su, n)
        assert created.status_code == 200, created.text
        if created.headers.get("x-roost-instance") != sub.instance:
            remote.add(n)
        if remote & {e["record"]["n"] for e in sub.events} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert remote & {e["record"]["n"] for e in sub.events}, (sorted(remote), sub.events)


async def _scenario(server: LiveServer, proxy: ThreadedFaultProxy) -> None:
    su = await asyncio.to_thread(server.superuser_token)
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
        res = await http.post("/api/collections", headers={"Authorization": su}, json={
            "name": "items", "listRule": "", "viewRule": "", "fields": [{"name": "n", "type": "number"}]})  # fmt: skip
        assert res.status_code == 200, res.text
        assert (await _create(http, su, -1)).status_code == 200
        await asyncio.to_thread(proxy.cut)
        await _during_outage(http, su, tasks)
        await asyncio.to_thread(proxy.restore)
        await _cross_worker_event(http, su, tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_realtime_degrades_while_redis_is_cut_and_recovers(cluster: tuple[LiveServer, ThreadedFaultProxy]) -> None:
    server, proxy = cluster
    asyncio.run(_scenario(server, proxy))
