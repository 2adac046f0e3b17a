"""``roost serve --workers 2`` with no Redis: the workers share the serving process's embedded hub.

Every check sends requests on fresh connections until both workers (told apart by the
``X-Roost-Instance`` header) have answered, so a state kept per process would show.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.procs import RoostProcess
from tests.sse import sse_frames

pytestmark = pytest.mark.e2e
WAIT = 20.0
LIMIT = 10


TICKER = """
import os
import time
from pathlib import Path

from roost.hooks import app


@app.cron("ticker", "* * * * *")
def tick() -> None:
    with (Path(__file__).parent.parent / "ticks.txt").open("a") as out:
        out.write(f"{int(time.time() // 60)} {os.getpid()}\\n")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostProcess]:
    root = tmp_path_factory.mktemp("hub")
    (root / "roost_hooks").mkdir()
    (root / "roost_hooks" / "ticker.py").write_text(TICKER)
    proc = RoostProcess(
        root, extra=("--workers", "2"),
        env={"ROOST_REDIS_URL": "", "ROOST_INSTANCE_ID": "auto", "ROOST_CACHE_URL": "memory://"},
    )  # fmt: skip
    try:
        proc.start()  # a start that times out leaves the server running: stop it below
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def su(server: RoostProcess) -> dict[str, str]:
    return {"Authorization": server.superuser_token()}


@pytest.fixture
async def http(server: RoostProcess) -> AsyncIterator[httpx.AsyncClient]:
    # no keep-alive: every request takes a new connection, which either worker may accept
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:
        yield client


async def _each_worker(
    http: httpx.AsyncClient, request: Any, until: Any = None
) -> dict[str, httpx.Response]:
    """The last answer of each worker to ``request()``, polled until ``until`` holds for both."""
    answers: dict[str, httpx.Response] = {}
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for res in await asyncio.gather(*(request() for _ in range(4))):
            answers[res.headers["x-roost-instance"]] = res
        if len(answers) == 2 and (until is None or all(until(r) for r in answers.values())):
            break
    return answers


async def _create_collection(http: httpx.AsyncClient, su: dict[str, str], name: str) -> None:
    body = {"name": name, "type": "base", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "title", "type": "text"}]}  # fmt: skip
    res = await http.post("/api/collections", json=body, headers=su)
    assert res.status_code == 200, res.text


async def test_both_workers_answer(server: RoostProcess, http: httpx.AsyncClient) -> None:
    answers = await _each_worker(http, lambda: http.get("/api/health"))
    pids = {int(label.rsplit(":", 1)[1]) for label in answers}
    assert pids == set(server.worker_pids()), answers


async def test_each_worker_listens_on_its_own_socket_and_connections_spread(server: RoostProcess) -> None:
    """The kernel, not the busiest worker, shares out connections: each worker has a listening
    socket of its own (SO_REUSEPORT), so 32 keep-alive connections opened at once reach both."""
    workers = set(server.worker_pids())
    listening = {pid: _listening_sockets(pid, server.port) for pid in workers}
    assert all(len(inodes) == 1 for inodes in listening.values()), listening
    assert len(set().union(*listening.values())) == len(workers), listening
    clients = [httpx.AsyncClient(base_url=server.base_url, timeout=30) for _ in range(32)]
    try:
        answers = await asyncio.gather(*(c.get("/api/health") for c in clients))
        seen = {res.headers["x-roost-instance"] for res in answers}
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert len(seen) == 2, seen


def test_the_supervisor_is_a_slim_process_of_its_own(server: RoostProcess) -> None:
    """After its start-up checks, ``roost serve`` replaces itself (same process id) with
    ``python -m roost.server``, which loads the supervisor and the hub but neither uvicorn nor the
    app: it holds well under half a worker's memory (about 90% before the exec, about 65% with
    uvicorn's supervisor). Its children are the workers and nothing else (``multiprocessing``'s
    spawn method added a resource-tracker process)."""
    assert server.process is not None
    supervisor = server.process.pid
    cmdline = Path(f"/proc/{supervisor}/cmdline").read_text().split("\0")
    assert cmdline[1:5] == ["-m", "roost.server", "--workers", "2"], cmdline
    children = set(server.worker_pids())
    assert len(children) == 2, children
    for pid in children:
        worker_cmdline = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
        assert worker_cmdline[1:3] == ["-m", "roost.server.worker"], worker_cmdline
    assert all(_rss_kib(supervisor) < 0.5 * _rss_kib(pid) for pid in children), (
        _rss_kib(supervisor), [_rss_kib(pid) for pid in children]
    )
    loaded = Path(f"/proc/{supervisor}/maps").read_text()
    # the native parts of the HTTP parser, the settings library and the JWT library it no longer loads
    assert not any(lib in loaded for lib in ("httptools", "pydantic_core", "cryptography")), loaded


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _listening_sockets(pid: int, port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` that ``pid`` holds open."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink()) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            held.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            # local address HEX:PORT, state 0A = LISTEN, inode in column 9
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] in held:
                found.add(cols[9])
    return found


async def test_a_collection_change_reaches_every_worker(
    http: httpx.AsyncClient, su: dict[str, str]
) -> None:
    await _create_collection(http, su, "notes")
    answers = await _each_worker(http, lambda: http.get("/api/collections/notes/records"),
                                 until=lambda r: r.status_code == 200)  # fmt: skip
    assert [r.status_code for r in answers.values()] == [200, 200]


async def test_a_write_in_one_worker_retires_the_cached_lists_of_every_worker(
    http: httpx.AsyncClient, su: dict[str, str]
) -> None:
    await _create_collection(http, su, "cached")
    assert (
        await http.post("/api/collections/cached/records", json={"title": "a"})
    ).status_code == 200
    listed = lambda: http.get("/api/collections/cached/records")  # noqa: E731
    warm = await _each_worker(http, listed, until=lambda r: r.json()["totalItems"] == 1)
    assert [r.json()["totalItems"] for r in warm.values()] == [1, 1]
    await _each_worker(
        http, listed, until=lambda r: r.json()["totalItems"] == 1
    )  # now served from each cache
    assert (
        await http.post("/api/collections/cached/records", json={"title": "b"})
    ).status_code == 200
    after = await _each_worker(http, listed)
    assert [r.json()["totalItems"] for r in after.values()] == [2, 2]


async def test_a_settings_change_reaches_every_worker(
    http: httpx.AsyncClient, su: dict[str, str]
) -> None:
    res = await http.patch("/api/settings", json={"meta": {"appName": "Hub test"}}, headers=su)
    assert res.status_code == 200, res.text
    answers = await _each_worker(http, lambda: http.get("/api/settings", headers=su),
                                 until=lambda r: r.json()["meta"]["appName"] == "Hub test")  # fmt: skip
    assert [r.json()["meta"]["appName"] for r in answers.values()] == ["Hub test"] * 2


async def test_a_rate_limit_counts_the_requests_of_every_worker(
    http: httpx.AsyncClient, su: dict[str, str]
) -> None:
    await _create_collection(http, su, "limited")
    rule = {
        "label": "/api/collections/limited/records",
        "audience": "",
        "duration": 300,
        "maxRequests": LIMIT,
    }
    res = await http.patch(
        "/api/settings", json={"rateLimits": {"enabled": True, "rules": [rule]}}, headers=su
    )
    assert res.status_code == 200, res.text
    await _each_worker(http, lambda: http.get("/api/settings", headers=su),
                       until=lambda r: r.json()["rateLimits"]["enabled"])  # fmt: skip
    answers = await asyncio.gather(
        *(http.get("/api/collections/limited/records") for _ in range(4 * LIMIT))
    )
    assert sorted(r.status_code for r in answers).count(200) == LIMIT, [
        r.status_code for r in answers
    ]
    assert len({r.headers["x-roost-instance"] for r in answers}) == 2


async def test_login_failures_lock_an_account_on_every_worker(
    http: httpx.AsyncClient, su: dict[str, str]
) -> None:
    throttle = {"enabled": True, "freeFailures": 3, "maxFailures": 3, "maxFailuresPerIP": 1000,
                "window": 300, "slowdownMs": 0}  # fmt: skip
    res = await http.patch(
        "/api/settings", json={"roostAuth": {"loginThrottle": throttle}}, headers=su
    )
    assert res.status_code == 200, res.text
    user = {
        "email": "locked@example.com",
        "password": "password123",
        "passwordConfirm": "password123",
    }
    assert (
        await http.post("/api/collections/users/records", json=user, headers=su)
    ).status_code == 200
    await _each_worker(http, lambda: http.get("/api/settings", headers=su),
                       until=lambda r: r.json()["roostAuth"]["loginThrottle"]["maxFailures"] == 3)  # fmt: skip
    login = "/api/collections/users/auth-with-password"
    for _ in range(3):
        wrong = await http.post(
            login, json={"identity": user["email"], "password": "wrong-password"}
        )
        assert wrong.status_code == 400
    answers = await _each_worker(
        http, lambda: http.post(login, json={"identity": user["email"], "password": "password123"})
    )
    assert [r.status_code for r in answers.values()] == [400, 400], [
        r.text for r in answers.values()
    ]


async def test_a_record_event_reaches_subscribers_on_every_worker(
    http: httpx.AsyncClient, su: dict[str, str], server: RoostProcess
) -> None:
    await _create_collection(http, su, "live")
    streams: dict[str, list[dict[str, Any]]] = {}
    ready: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []
    clients: list[tuple[str, str]] = []
    try:
        while len({instance for instance, _ in clients}) < 2 and len(tasks) < 40:
            tasks += [
                asyncio.create_task(_listen(server.base_url, streams, ready)) for _ in range(4)
            ]
            clients += [await asyncio.wait_for(ready.get(), WAIT) for _ in range(4)]
        assert len({instance for instance, _ in clients}) == 2, (
            "the streams all landed on one worker"
        )
        for _, client_id in clients:
            res = await http.post(
                "/api/realtime", json={"clientId": client_id, "subscriptions": ["live"]}
            )
            assert res.status_code == 204, res.text
        created = await http.post("/api/collections/live/records", json={"title": "hello"})
        assert created.status_code == 200, created.text
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not all(len(s) == 1 for s in streams.values()):
            await asyncio.sleep(0.05)
        assert [[e["record"]["title"] for e in s] for s in streams.values()] == [["hello"]] * len(
            tasks
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _listen(
    base_url: str, streams: dict[str, list[dict[str, Any]]], ready: asyncio.Queue[tuple[str, str]]
) -> None:
    events: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=None)) as client, \
            client.stream("GET", "/api/realtime") as res:  # fmt: skip
        async for frame in sse_frames(res):
            if frame.get("event") == "PB_CONNECT":
                streams[frame["id"]] = events
                await ready.put((res.headers["x-roost-instance"], frame["id"]))
            elif frame.get("event") == "live":
                events.append(json.loads(frame["data"]))


async def test_a_cron_job_runs_once_per_tick_across_workers(server: RoostProcess) -> None:
    ticks = server.root / "ticks.txt"
    deadline = time.monotonic() + 100  # the next minute boundary, on a busy machine
    while time.monotonic() < deadline and not _read(ticks):
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # a second worker running the same tick would have written by now
    minutes = [minute for minute, _ in _read(ticks)]
    assert minutes and len(set(minutes)) == len(minutes), _read(ticks)


def _read(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]
