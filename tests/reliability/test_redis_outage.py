"""Redis goes away under ``--workers 2`` and comes back (issue 9, defect 7; row R9).

The workers reach Redis through a fault proxy the test starts. While Redis is cut, a new realtime
subscription never answers 500: the worker holding the stream accepts it (its own events still
reach it) and another worker, which cannot ask the holder, answers 503 with ``Retry-After``.
Record writes keep working; collection and settings changes answer 503 with ``Retry-After``
(a change the other worker could not hear of would split the cluster). Once Redis is back,
events and a collection change cross from one worker to the other again.
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


async def _subscribe_on(http: httpx.AsyncClient, client_id: str, worker: str | None) -> httpx.Response:
    """Send a subscribe POST on new connections until ``worker`` answers it (any worker if None).

    The kernel picks the worker for each new connection, so a few tries reach the one wanted.
    """
    res = None
    for _ in range(40):
        res = await http.post("/api/realtime", json={"clientId": client_id, "subscriptions": ["items/*"]},
                              headers={"Connection": "close"})
        if worker is None or res.headers.get("x-roost-instance") == worker:
            return res
    raise AssertionError(f"40 new connections never reached worker {worker}; last answer {res and res.status_code}")


async def _health_until(http: httpx.AsyncClient, broker_down: bool) -> httpx.Response:
    """``/api/health`` of some worker once it reports the broker down, or up (re-checked each
    second). Either way the answer is 200: a broker outage degrades, it does not make an
    instance unready."""
    deadline = time.monotonic() + WAIT
    while True:
        res = await http.get("/api/health", headers={"Connection": "close"})
        if ("broker" in res.json().get("data", {})) == broker_down or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert res.status_code == 200 and ("broker" in res.json()["data"]) == broker_down, res.text
    return res


async def _during_outage(http: httpx.AsyncClient, su: str, tasks: list[asyncio.Task[None]]) -> None:
    health = await _health_until(http, broker_down=True)
    assert health.json()["data"]["broker"]["code"] == "unreachable", health.text
    holder_answers, other_answers = [], []
    for _ in range(4):
        sub = Subscriber()
        tasks.append(asyncio.create_task(sub.run(str(http.base_url))))
        try:
            client_id = await asyncio.wait_for(sub.ready, WAIT)
            # the worker holding the stream always accepts it: its own events still reach it
            res = await _subscribe_on(http, client_id, sub.instance)
            holder_answers.append(res.status_code)
            assert res.status_code == 204, res.text
            # any other worker cannot ask the holder: 503 with Retry-After, never a hang or a 500
            for _ in range(4):
                res = await _subscribe_on(http, client_id, None)
                if res.headers.get("x-roost-instance") == sub.instance:
                    continue
                other_answers.append(res.status_code)
                assert res.status_code == 503, res.text
                assert res.json()["status"] == 503 and int(res.headers["retry-after"]) > 0, res.text
        except httpx.TimeoutException:
            pytest.fail(f"a realtime subscription hung for {WAIT} s while Redis was cut")
    assert holder_answers == [204] * 4, holder_answers
    for n in range(3):
        res = await _create(http, su, n)
        assert res.status_code == 200, res.text
    for url, change in (("/api/collections/items", {"listRule": None}), ("/api/settings", {"meta": {"appName": "During"}})):
        res = await http.patch(url, json=change, headers={"Authorization": su, "Connection": "close"})
        assert res.status_code == 503 and int(res.headers["retry-after"]) > 0, res.text


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


async def _rule_change_reaches_both_workers(http: httpx.AsyncClient, su: str) -> None:
    res = await http.patch("/api/collections/items", json={"listRule": None}, headers={"Authorization": su})
    assert res.status_code == 200, res.text
    answers: dict[str, int] = {}
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:  # new connections, so both workers answer in time
        guest = await http.get(ITEMS, headers={"Connection": "close"})
        answers[guest.headers.get("x-roost-instance", "")] = guest.status_code
        if len(answers) == 2 and set(answers.values()) == {403}:
            break
        await asyncio.sleep(0.05)
    assert len(answers) == 2 and set(answers.values()) == {403}, answers


async def _both_workers_serving(http: httpx.AsyncClient) -> None:
    seen: set[str] = set()
    deadline = time.monotonic() + WAIT
    while len(seen) < 2 and time.monotonic() < deadline:  # new connections reach either worker
        res = await http.get("/api/health", headers={"Connection": "close"})
        seen.add(res.headers.get("x-roost-instance", ""))
    assert len(seen) == 2, seen


async def _scenario(server: LiveServer, proxy: ThreadedFaultProxy) -> None:
    su = await asyncio.to_thread(server.superuser_token)
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
        res = await http.post("/api/collections", headers={"Authorization": su}, json={
            "name": "items", "listRule": "", "viewRule": "", "fields": [{"name": "n", "type": "number"}]})  # fmt: skip
        assert res.status_code == 200, res.text
        assert (await _create(http, su, -1)).status_code == 200
        await _both_workers_serving(http)  # a worker still starting when Redis goes would fail its start
        await asyncio.to_thread(proxy.cut)
        await _during_outage(http, su, tasks)
        await asyncio.to_thread(proxy.restore)
        await _health_until(http, broker_down=False)
        await _cross_worker_event(http, su, tasks)
        await _rule_change_reaches_both_workers(http, su)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_realtime_degrades_while_redis_is_cut_and_recovers(cluster: tuple[LiveServer, ThreadedFaultProxy]) -> None:
    server, proxy = cluster
    try:
        asyncio.run(_scenario(server, proxy))
    except httpx.TransportError as exc:  # the server stopped answering: show what it said last
        exit_code = server.process.poll() if server.process else None
        pytest.fail(f"{exc!r}; server exit code {exit_code}; server log:\n{server.log_tail(80)}")
