"""Server CPU per request on PostgreSQL against SQLite (issue 17: the PostgreSQL path).

Starts ``roost serve --workers 1`` on a fresh SQLite data dir and on a fresh PostgreSQL database,
seeds the same public ``posts`` collection (a few fields, ``--rows`` records) into both, then for
each scenario (view one record, list with filter + sort + count, create) sends a warm-up and
``--requests`` requests and reads the server's CPU time (utime + stime from ``/proc``, summed over
its process tree) before and after. CPU per request does not depend on how busy the machine is,
unlike throughput, so this stays indicative on a shared machine.

    .venv/bin/python bench/pg_cpu.py [--requests 2000] [--rows 2000] [--pg postgresql://postgres@127.0.0.1:5432]
    .venv/bin/python bench/pg_cpu.py --backend postgres --profile /tmp/pg.svg  # py-spy the PG server

Needs a PostgreSQL server where the user may create databases; the database is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOST = str(Path(sys.executable).with_name("roost"))
SU = ("bench@example.com", "bench-password-123")
STATUSES = ["draft", "published", "archived"]
LIST_QUERY = {"filter": 'status = "published" && views > 500', "sort": "-views,id", "perPage": "20"}
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants, in seconds."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    pids, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        pids.update(children)
        frontier += children
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url + "/postgres" + ARGS.pg_query)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def server(backend: str, pg: str, profile: str = "") -> Iterator[tuple[str, int]]:
    """A seeded ``roost serve --workers 1``; yields ``(base URL, pid)``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"roost-pgcpu-{backend}-"))
    db_args: list[str] = []
    database = f"roost_pgcpu_{os.getpid()}"
    if backend == "postgres":
        asyncio.run(_pg(pg, f'DROP DATABASE IF EXISTS "{database}"'))
        asyncio.run(_pg(pg, f'CREATE DATABASE "{database}"'))
        db_args = ["--db-url", f"{pg}/{database}{ARGS.pg_query}"]
    data = str(workdir / "data")
    subprocess.run(
        [ROOST, "superuser", "upsert", *SU, "--dir", data, *db_args],
        check=True,
        capture_output=True,
    )
    port = free_port()
    args = [
        ROOST,
        "serve",
        "--http",
        f"127.0.0.1:{port}",
        "--dir",
        data,
        "--workers",
        "1",
        *db_args,
        *ARGS.server_arg,
    ]
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    spy: subprocess.Popen[bytes] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        seed(base)
        if profile:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-p",
                    str(proc.pid),
                    "-o",
                    f"{profile}.{backend}",
                    "-r",
                    "200",
                    "-f",
                    "raw",
                ]
            )
            time.sleep(1)
        yield base, proc.pid
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if ARGS.keep_log:
            shutil.copy(workdir / "server.log", ARGS.keep_log)
        if backend == "postgres":
            asyncio.run(_pg(pg, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def seed(base: str) -> None:
    with httpx.Client(base_url=base, timeout=120) as c:
        token = c.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": SU[0], "password": SU[1]},
        )
        token.raise_for_status()
        h = {"Authorization": token.json()["token"]}
        settings = {
            "batch": {"enabled": True, "maxRequests": 1000},
            "rateLimits": {"enabled": False},
        }
        c.patch("/api/settings", json=settings, headers=h).raise_for_status()
        fields = [
            {"name": "title", "type": "text", "required": True, "max": 200},
            {"name": "body", "type": "text"},
            {"name": "views", "type": "number", "onlyInt": True},
            {"name": "published", "type": "bool"},
            {"name": "status", "type": "select", "maxSelect": 1, "values": STATUSES},
            {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ]
        rules = {"listRule": "", "viewRule": "", "createRule": ""}
        body = {"name": "posts", "type": "base", "fields": fields, **rules}
        c.post("/api/collections", json=body, headers=h).raise_for_status()
        rng = random.Random(17)
        rows = [post(rng, i) for i in range(ARGS.rows)]
        for start in range(0, len(rows), 500):
            requests = [
                {"method": "POST", "url": "/api/collections/posts/records", "body": r}
                for r in rows[start : start + 500]
            ]
            c.post("/api/batch", json={"requests": requests}, headers=h).raise_for_status()


def post(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "title": f"post {i}",
        "body": "lorem ipsum " * rng.randint(1, 20),
        "views": rng.randint(0, 1000),
        "published": rng.random() < 0.5,
        "status": rng.choice(STATUSES),
    }


def measure(
    base: str, pid: int, requests: int, call: Callable[[httpx.Client, int], httpx.Response]
) -> float:
    """ms of server CPU per request, ``requests`` sent by 4 client threads."""
    threads = 4
    clients = [httpx.Client(base_url=base, timeout=30) for _ in range(threads)]

    def run(k: int, n: int) -> None:
        for i in range(n):
            response = call(clients[k], k * n + i)
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: run(k, 50), range(threads)))  # warm-up
        before = tree_cpu_seconds(pid)
        list(pool.map(lambda k: run(k, requests // threads), range(threads)))
        spent = tree_cpu_seconds(pid) - before
    for c in clients:
        c.close()
    return spent * 1000 / (requests // threads * threads)


def scenarios(base: str) -> dict[str, Callable[[httpx.Client, int], httpx.Response]]:
    ids = [
        r["id"]
        for r in httpx.get(base + "/api/collections/posts/records", params={"perPage": 500}).json()[
            "items"
        ]
    ]
    rng = random.Random(3)
    return {
        "view": lambda c, i: c.get(f"/api/collections/posts/records/{ids[i % len(ids)]}"),
        "list": lambda c, i: c.get("/api/collections/posts/records", params=LIST_QUERY),
        "create": lambda c, i: c.post("/api/collections/posts/records", json=post(rng, i)),
    }


def main() -> None:
    samples: dict[str, dict[str, list[float]]] = {b: {} for b in ARGS.backend}
    with ExitStack() as stack:
        servers = {b: stack.enter_context(server(b, ARGS.pg, ARGS.profile)) for b in ARGS.backend}
        calls = {b: scenarios(base) for b, (base, _) in servers.items()}
        # rounds alternate between the servers, so a change in the machine's load hits both
        for _ in range(ARGS.rounds):
            for name in ARGS.scenario:
                for b, (base, pid) in servers.items():
                    samples[b].setdefault(name, []).append(
                        measure(base, pid, ARGS.requests, calls[b][name])
                    )
    results = {b: {name: statistics.median(v) for name, v in s.items()} for b, s in samples.items()}
    for b in ARGS.backend:
        print(b, {name: [round(x, 3) for x in v] for name, v in samples[b].items()}, flush=True)
    both = "sqlite" in results and "postgres" in results
    print(
        f"\nmedian of {ARGS.rounds} rounds of {ARGS.requests} requests, ms of server CPU per request"
    )
    print(
        f"{'scenario':<10}"
        + "".join(f"{b:>12}" for b in ARGS.backend)
        + ("   PG/SQLite" if both else "")
    )
    for name in ARGS.scenario:
        line = f"{name:<10}" + "".join(f"{results[b][name]:>12.3f}" for b in ARGS.backend)
        if both:
            line += f"{results['postgres'][name] / results['sqlite'][name]:>12.2f}"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--scenario",
        nargs="+",
        default=["view", "list", "create"],
        choices=["view", "list", "create"],
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL, no database"
    )
    parser.add_argument(
        "--pg-query",
        default="",
        help="query string of the database URLs (?host=/var/run/postgresql)",
    )
    parser.add_argument(
        "--backend", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra roost serve argument (repeatable)"
    )
    parser.add_argument("--keep-log", default="", help="copy the server log to this file")
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy raw profile of each server to FILE.sqlite / FILE.postgres",
    )
    ARGS = parser.parse_args()
    main()
