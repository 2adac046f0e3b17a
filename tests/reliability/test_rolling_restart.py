"""R5 behind a proxy: a rolling restart of two instances under load loses no read and no write.

Two ``roost serve`` instances share one PostgreSQL schema and Redis behind an nginx upstream
that retries idempotent requests and refused connections on the other instance. While clients
read and write through nginx, instance A is stopped with SIGTERM, started again and waited for,
then B. Writes carry their own record id, so a client that got a retryable error (nginx's 502
for a POST it may not replay, or a 503) sends the same write again: a retry that finds the id
taken proves the first attempt committed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import long_run, skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import PG_URL, ServiceUnavailable, _pg_schema, free_port
from tests.reliability.procs import RoostProcess

LONG = long_run()
READERS = 4
WRITERS = 4
ROUNDS = 3 if LONG else 1  # restarts of each instance
SETTLE_OPS = 150  # successful requests between two restarts
WRITE_TRIES = 5
ITEMS = "/api/collections/items/records"

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    upstream roost {{
        server {a} max_fails=1 fail_timeout=1s;
        server {b} max_fails=1 fail_timeout=1s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://roost;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            # a refused connection or a failure before any byte was sent is retried for every
            # method; after the request went out only GET/HEAD/PUT/DELETE/OPTIONS are
            # (no non_idempotent: a POST may have committed)
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


@dataclass
class Tally:
    reads: Counter[str] = field(default_factory=Counter)
    first_tries: Counter[str] = field(
        default_factory=Counter
    )  # outcome of each write's first attempt
    acked: set[str] = field(default_factory=set)  # 200, or a retry that found the id stored
    given_up: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP status seen
    served: Counter[str] = field(default_factory=Counter)  # successful answers per instance

    @property
    def done(self) -> int:
        return self.reads["200"] + len(self.acked)


@dataclass
class Cluster:
    a: RoostProcess
    b: RoostProcess
    url: str
    nginx: subprocess.Popen[bytes]
    run_dir: Path


def _nginx(run_dir: Path, port: int, a: str, b: str) -> subprocess.Popen[bytes]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=run_dir, port=port, a=a, b=b))
    log = (run_dir / "nginx-stdout.log").open("ab")
    command = [binary, "-p", str(run_dir), "-c", str(conf), "-e", str(run_dir / "nginx-error.log")]
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"not reachable: {url}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        skip_or_fail("nginx is not installed")
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    try:
        schema, drop = _pg_schema()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    env = {"ROOST_DB_URL": PG_URL, "ROOST_DB_SCHEMA": schema, "ROOST_REDIS_URL": REDIS_URL}
    a = RoostProcess(tmp_path / "a", env={**env, "ROOST_INSTANCE_ID": "a"})
    b = RoostProcess(tmp_path / "b", env={**env, "ROOST_INSTANCE_ID": "b"})
    nginx = None
    try:
        a.start()
        b.start()
        port = free_port()
        nginx = _nginx(tmp_path / "nginx", port, f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}")
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, nginx)
        yield Cluster(a, b, url, nginx, tmp_path / "nginx")
    finally:
        if nginx is not None and nginx.poll() is None:
            nginx.terminate()
            nginx.wait(timeout=10)
        a.stop()
        b.stop()
        drop()


async def _reader(http: httpx.AsyncClient, record: str, tally: Tally, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        url = f"{ITEMS}/{record}" if n % 2 else ITEMS
        try:
            res = await http.get(url, params={} if n % 2 else {"perPage": 5, "skipTotal": 1})
        except httpx.HTTPError as exc:
            tally.reads[type(exc).__name__] += 1
            continue
        tally.statuses[res.status_code] += 1
        tally.reads[str(res.status_code)] += 1
        tally.served[res.headers.get("x-roost-instance", "?")] += 1


async def _write(http: httpx.AsyncClient, record_id: str, tally: Tally) -> None:
    """One write, sent again with the same id after a retryable error."""
    for attempt in range(WRITE_TRIES):
        try:
            res = await http.post(ITEMS, json={"id": record_id, "text": "w"})
            outcome = str(res.status_code)
            tally.statuses[res.status_code] += 1
        except httpx.HTTPError as exc:
            res, outcome = None, type(exc).__name__
        if attempt == 0:
            tally.first_tries[outcome] += 1
        if res is not None and res.status_code == 200:
            tally.acked.add(record_id)
            return
        taken = res is not None and res.status_code == 400 and "id" in res.json().get("data", {})
        if attempt > 0 and taken:  # the earlier attempt had committed
            tally.first_tries["committed before its error"] += 1
            tally.acked.add(record_id)
            return
        if res is not None and res.status_code not in (502, 503):
            break  # not retryable: a failure the test reports
        await asyncio.sleep(0.1)
    tally.given_up.add(record_id)


async def _writer(n: int, http: httpx.AsyncClient, tally: Tally, stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        await _write(http, f"w{n:02d}{i:012d}", tally)


async def _restart(proc: RoostProcess) -> int | None:
    """SIGTERM, wait for the exit, start again and wait until healthy; returns the exit code."""
    assert proc.process is not None
    os.killpg(proc.process.pid, signal.SIGTERM)
    try:
        code = await asyncio.to_thread(proc.process.wait, 30)
    except subprocess.TimeoutExpired:
        code = None  # reported by the test; stop it the hard way so the run can go on
        proc.kill9()
    await asyncio.to_thread(proc.start)
    return code


async def _settle(tally: Tally, instance: str = "") -> None:
    """Wait for SETTLE_OPS more successes, and for the restarted instance to answer through
    nginx again: healthy on its own port is not yet back in the proxy's rotation (nginx
    takes a failed server back only after ``fail_timeout``), and restarting the other one
    before that leaves nginx with no live upstream."""
    target, rejoined = tally.done + SETTLE_OPS, tally.served[instance] + 20
    while tally.done < target or (instance and tally.served[instance] < rejoined):
        await asyncio.sleep(0.02)


async def test_rolling_restart_behind_nginx_loses_no_read_or_write(cluster: Cluster) -> None:
    su = {"Authorization": cluster.a.superuser_token()}
    body = {"name": "items", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "text", "type": "text"}]}  # fmt: skip
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30.0) as http:
        assert (
            res := await http.post("/api/collections", json=body, headers=su)
        ).status_code == 200, res.text
        await asyncio.sleep(0.5)  # the other instance reloads its collections from the broker
        record = (await http.post(ITEMS, json={"text": "seed"})).json()["id"]
        tally, stop = Tally(), asyncio.Event()
        clients = [asyncio.create_task(_reader(http, record, tally, stop)) for _ in range(READERS)]
        clients += [asyncio.create_task(_writer(n, http, tally, stop)) for n in range(WRITERS)]
        codes = []
        try:
            await asyncio.wait_for(_settle(tally), 60)
            for _ in range(ROUNDS):
                for name, proc in (("a", cluster.a), ("b", cluster.b)):
                    codes.append(await _restart(proc))
                    await asyncio.wait_for(_settle(tally, name), 60)
        finally:
            stop.set()
            await asyncio.gather(*clients)
        stored = await _stored_ids(http)
    report = (
        f"{len(codes)} restarts; reads {dict(tally.reads)}; writes: {len(tally.acked)} acknowledged, "
        f"{len(tally.acked & stored)} of them stored, first attempts {dict(tally.first_tries)}; "
        f"statuses {dict(tally.statuses)}"
    )
    print(report)
    assert all(code in (0, -signal.SIGTERM) for code in codes), (
        codes,
        cluster.a.log_tail(),
        cluster.b.log_tail(),
    )
    assert set(tally.reads) == {"200"}, report
    assert not tally.given_up, f"{len(tally.given_up)} writes never acknowledged; {report}"
    lost = tally.acked - stored
    assert not lost, f"{len(lost)} acknowledged writes missing: {sorted(lost)[:5]}"
    server_errors = {s for s in tally.statuses if s >= 500} - {502, 503}
    assert not server_errors, report


async def _stored_ids(http: httpx.AsyncClient) -> set[str]:
    ids: set[str] = set()
    page = 1
    while True:
        res = await http.get(
            ITEMS, params={"page": page, "perPage": 500, "fields": "id", "sort": "id"}
        )
        assert res.status_code == 200, res.text
        ids.update(item["id"] for item in res.json()["items"])
        if page >= res.json()["totalPages"]:
            return ids
        page += 1
