"""R14: three times saturation, then back to normal.

The test first finds one server's saturation for a list request: the client count past which
doubling the clients adds less than 15 % throughput, and the best throughput seen. Then two
overload phases, each with some writes mixed in:

* closed loop: three times the saturating client count, each client sending its next request
  when the last is answered (most on keep-alive connections, some reconnecting each time);
* open loop: new visitors arriving at three times the best throughput, each on a connection of
  its own, whether or not earlier ones were answered (the client keeps at most OPEN_LOOP_CAP in
  flight, below the per-IP connection cap, so the server's behaviour is measured, not that cap).

Outcomes only: no 5xx but a 503 the server chose to shed load with, no refused or reset
connection, ``/api/health`` answers during the load (a client waiting up to a minute), and once
the load stops every request succeeds, every acknowledged write is stored once and the server's
memory is back within bounds. ``pytest --long`` holds each phase longer.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import long_run
from tests.reliability.procs import RoostProcess, backend_server

LONG = long_run()
SEED_RECORDS = 300
STEP_SECONDS = 3.0 if LONG else 1.5  # per client count while looking for saturation
PHASE_SECONDS = 30.0 if LONG else 5.0
MAX_CLIENTS = 64
FACTOR = 3
WRITE_SHARE = 8  # one request (or client) in this many writes
OPEN_LOOP_CAP = 200
HEALTH_TIMEOUT = 60.0
#: RSS after the load may exceed RSS before it by this much (allocator high-water marks stay)
RSS_SLACK = 64 << 20
ITEMS = "/api/collections/items/records"
READ = f"GET {ITEMS}?perPage=30&sort=-n&filter=(n%3E10) HTTP/1.1\r\nHost: roost\r\n\r\n".encode()
_BODY = b'{"n":-1,"text":"load"}'
WRITE = (f"POST {ITEMS} HTTP/1.1\r\nHost: roost\r\nContent-Type: application/json\r\n"
         f"Content-Length: {len(_BODY)}\r\n\r\n").encode() + _BODY  # fmt: skip
SHED = {"200", "503"}  # what an overloaded server may answer
_FAILURES = (OSError, asyncio.IncompleteReadError, TimeoutError)


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)  # an HTTP status, or how it failed
    created: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k.isdigit())

    def record(self, request: bytes, status: int, body: bytes) -> None:
        self.outcomes[str(status)] += 1
        if status == 200 and request is WRITE:
            self.created.append(body.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode())


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoostProcess]:
    with backend_server(request.param, tmp_path) as proc:
        yield proc


def _seed(proc: RoostProcess) -> None:
    su = {"Authorization": proc.superuser_token()}
    body = {"name": "items", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "n", "type": "number"}, {"name": "text", "type": "text"}]}  # fmt: skip
    with httpx.Client(base_url=proc.base_url, timeout=30.0, headers=su) as http:
        assert (res := http.post("/api/collections", json=body)).status_code == 200, res.text
        res = http.patch("/api/settings", json={"batch": {"enabled": True, "maxRequests": 100}})
        assert res.status_code == 200, res.text
        for start in range(0, SEED_RECORDS, 100):
            creates = [{"method": "POST", "url": ITEMS, "body": {"n": n, "text": f"seed {n}"}}
                       for n in range(start, start + 100)]  # fmt: skip
            res = http.post("/api/batch", json={"requests": creates})
            assert res.status_code == 200, res.text


async def _exchange(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
) -> tuple[int, bytes, bool]:
    """One request on an open connection: the status, the body and whether it stays open."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    headers = head.lower()
    length = 0
    if b"content-length:" in headers:
        length = int(headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    body = await reader.readexactly(length)
    return int(head[9:12]), body, b"connection: close" not in headers


async def _client(
    port: int, request: bytes, stats: Stats, stop: asyncio.Event, reconnect: bool
) -> None:
    """A client sending ``request`` until ``stop``; ``reconnect`` opens a connection per request."""
    conn = None
    while not stop.is_set():
        keep = False
        try:
            conn = conn or await asyncio.open_connection("127.0.0.1", port)
            status, body, keep = await asyncio.wait_for(_exchange(conn, request), 120)
            stats.record(request, status, body)
        except _FAILURES as exc:
            stats.outcomes[type(exc).__name__] += 1
            await asyncio.sleep(0.01)
        if conn is not None and (reconnect or not keep):
            conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


async def _closed_loop(
    port: int, clients: int, seconds: float, stats: Stats, *, mixed: bool
) -> None:
    """``clients`` clients for ``seconds``; ``mixed`` adds writers and reconnecting readers."""
    stop = asyncio.Event()
    tasks = []
    for n in range(clients):
        request = WRITE if mixed and n % WRITE_SHARE == 0 else READ
        reconnect = mixed and n % 3 == 1
        tasks.append(asyncio.create_task(_client(port, request, stats, stop, reconnect)))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


async def _visit(port: int, request: bytes, stats: Stats) -> None:
    """One request on a connection of its own, as an independent visitor sends it."""
    try:
        conn = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        stats.outcomes[type(exc).__name__] += 1
        return
    try:
        status, body, _ = await asyncio.wait_for(_exchange(conn, request), 120)
        stats.record(request, status, body)
    except _FAILURES as exc:
        stats.outcomes[type(exc).__name__] += 1
    finally:
        conn[1].close()


async def _open_loop(port: int, rate: float, seconds: float, stats: Stats) -> float:
    """Start ``rate`` visits a second, answered or not; returns the rate actually offered."""
    in_flight: set[asyncio.Task[None]] = set()
    started, sent = time.monotonic(), 0
    while (now := time.monotonic()) - started < seconds:
        for _ in range(int((now - started) * rate) - sent):
            sent += 1
            if len(in_flight) >= OPEN_LOOP_CAP:
                stats.outcomes["not sent: client cap"] += 1
                continue
            task = asyncio.create_task(
                _visit(port, WRITE if sent % WRITE_SHARE == 0 else READ, stats)
            )
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.sleep(0.005)
    offered = sent / (time.monotonic() - started)
    await asyncio.gather(*in_flight)
    return offered


async def _saturation(port: int) -> tuple[int, float, list[tuple[int, int]]]:
    """The saturating client count, the best throughput (req/s) and the curve measured."""
    curve: list[tuple[int, int]] = []
    clients = 1
    while clients <= MAX_CLIENTS:
        stats = Stats()
        await _closed_loop(port, clients, STEP_SECONDS, stats, mixed=False)
        assert set(stats.outcomes) == {"200"}, stats.outcomes
        curve.append((clients, round(stats.answered / STEP_SECONDS)))
        if len(curve) > 1 and curve[-1][1] < 1.15 * curve[-2][1]:
            break
        clients *= 2
    best = max(curve, key=lambda point: point[1])
    return (curve[-2] if len(curve) > 1 else curve[-1])[0], float(best[1]), curve


async def _health_during(base_url: str, stop: asyncio.Event, answers: list[int]) -> None:
    while not stop.is_set():
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as http:  # a new connection each time
            try:
                answers.append((await http.get(f"{base_url}/api/health")).status_code)
            except httpx.HTTPError:
                answers.append(0)
        await asyncio.sleep(0.2)


async def _with_health(proc: RoostProcess, load: Awaitable[object]) -> list[int]:
    """Run ``load`` while a client keeps asking ``/api/health``; returns the health answers."""
    health: list[int] = []
    stop = asyncio.Event()
    checker = asyncio.create_task(_health_during(proc.base_url, stop, health))
    await load
    stop.set()
    await checker
    return health


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) << 10
    raise AssertionError("no VmRSS")


async def test_three_times_saturation_is_served_and_the_server_recovers(
    server: RoostProcess,
) -> None:
    await asyncio.to_thread(_seed, server)
    assert server.process is not None
    clients, capacity, curve = await _saturation(server.port)
    rss_before = _rss(server.process.pid)

    closed = Stats()
    run = _closed_loop(server.port, FACTOR * clients, PHASE_SECONDS, closed, mixed=True)
    closed_health = await _with_health(server, run)
    opened = Stats()
    open_run = asyncio.create_task(
        _open_loop(server.port, FACTOR * capacity, PHASE_SECONDS, opened)
    )
    open_health = await _with_health(server, open_run)
    offered = open_run.result()
    report = (
        f"saturation at {clients} clients, {capacity:.0f} req/s (curve {curve}); "
        f"closed loop, {FACTOR * clients} clients: {dict(closed.outcomes)}, health {Counter(closed_health)}; "
        f"open loop, {offered:.0f} req/s offered: {dict(opened.outcomes)}, health {Counter(open_health)}"
    )
    print(report)

    assert server.process.poll() is None, server.log_tail()
    assert set(closed.outcomes) <= SHED, report
    assert set(opened.outcomes) <= SHED | {"not sent: client cap"}, report
    for health in (closed_health, open_health):
        assert 200 in health and set(health) <= {200, 503}, report

    # after the load: every request succeeds, every acknowledged write is stored once
    after = Stats()
    await _closed_loop(server.port, 2, STEP_SECONDS, after, mixed=False)
    assert set(after.outcomes) == {"200"}, after.outcomes
    created = closed.created + opened.created
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http:
        res = await http.get(ITEMS, params={"filter": "n=-1", "perPage": 1})
        assert res.status_code == 200, res.text
        assert res.json()["totalItems"] == len(created) == len(set(created)), report
        assert (await http.get(ITEMS, params={"filter": "n>=0"})).json()[
            "totalItems"
        ] == SEED_RECORDS
        assert (await http.get("/api/health")).status_code == 200
    rss_after = _rss(server.process.pid)
    print(f"RSS {rss_before >> 20} MiB before the load, {rss_after >> 20} MiB after")
    assert rss_after <= rss_before + RSS_SLACK, (rss_before >> 20, rss_after >> 20, report)
