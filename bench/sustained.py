#!/usr/bin/env python3
"""Sustained load: Roost and PocketBase each under one long wrk run, and the work each leaves
for after it.

    .venv/bin/python bench/sustained.py                  # 30 s per run, health and a record view
    .venv/bin/python bench/sustained.py --duration 60 --scenarios health

Both servers start fresh with their defaults (``roost serve``, ``pocketbase serve``), with the
same public ``posts`` collection and one record. For each scenario, one server after the other
(each waits for both to be idle first), it runs ``wrk -t1 -c32`` for ``--duration`` seconds and
reads:

* req/s and server CPU per request during the run (utime + stime of the process tree);
* how many of the run's requests have a row in the request log when the run ends, from each
  server's logs API (``GET /api/logs``, ``totalItems``);
* how long the server keeps working after the run (until it uses under 10% of a core over
  0.25 s), the CPU it spends meanwhile, and the run's "all-in" CPU per request (both together);
* the largest RSS of its process tree from the start of the run until it is idle again.

A 5 s round of ``bench/run.py`` sees the first of these; a server that puts part of each
request's work off (PocketBase writes its request log from a queue that falls behind under
load) shows the rest here: the queue's length in memory and the time it takes to drain.

A fresh server's request log is empty, a running one's is not: ``--grown-log N`` fills each
server's log with N rows before the runs (``auxiliary.db`` written with sqlite3 while the server
is stopped, each row shaped as that server writes it: Roost's ids follow time, PocketBase's are
random), and the ``varied`` scenario asks for ``/api/health`` with a different query string each
time, so each request's row has a message of its own, as record URLs do.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: seconds a server may keep working after its run before the bench stops waiting
CATCH_UP_LIMIT = 600.0


def _load_floor() -> ModuleType:
    """``bench/floor.py``, whose server handling (and ``bench/run.py``'s helpers) this reuses."""
    spec = importlib.util.spec_from_file_location("bench_floor", REPO / "bench" / "floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_floor"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


floor = _load_floor()
run = floor.run


@dataclass
class Server(floor.Target):  # type: ignore[name-defined,misc]
    """A server started and seeded as ``bench/floor.py`` does, which also reads its logs API."""

    token: str = ""

    def seed(self) -> None:
        self.view = floor.seed(self.base)
        self.seed_login()

    def seed_login(self) -> None:
        login = run.must(self.base, "POST", "/api/collections/_superusers/auth-with-password",
                         {"identity": floor.SU_EMAIL, "password": floor.SU_PASSWORD})  # fmt: skip
        self.token = login["token"]

    def logged(self) -> int:
        """Rows in the request log now, from the server's logs API."""
        page = run.must(self.base, "GET", "/api/logs?perPage=1", token=self.token)
        return int(page["totalItems"])

    def rss_kb(self) -> int:
        return sum(run.read_status_kb(p, "VmRSS") for p in run.process_tree(self.pid))


class RssWatch:
    """The largest RSS of a server's process tree, sampled every 0.25 s until stopped."""

    def __init__(self, server: Server) -> None:
        self.server, self.peak_kb = server, server.rss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_kb = max(self.peak_kb, self.server.rss_kb())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kb, self.server.rss_kb())


#: the ``varied`` scenario's requests: /api/health with a query string of its own each time
VARIED_LUA = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/health?n=" .. n .. "&r=" .. math.random(1, 1000000000))
end
"""


def fill_log(data_dir: Path, rows: int, ids: str) -> None:
    """Add ``rows`` request-log rows to ``data_dir/auxiliary.db``, from the last day, each with a
    message of its own; ``ids`` is "time" (in the order of their times) or "random". The table's
    indexes are dropped for the fill and made again after it, as they were."""
    with sqlite3.connect(data_dir / "auxiliary.db") as db:
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '_logs' AND sql IS NOT NULL").fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        start = time.time() - 86_400
        alphabet = string.ascii_lowercase + string.digits
        rng = random.Random(7)

        def row(i: int) -> tuple[Any, ...]:
            ts = start + i * 86_400 / rows
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
            log_id = f"{i:015d}" if ids == "time" else "".join(rng.choices(alphabet, k=15))
            url = f"/api/health?n={i}&r={rng.randrange(1_000_000_000)}"
            data = json.dumps({"type": "request", "method": "GET", "url": url, "status": 200, "execTime": 0.4, "referer": "",
                               "userAgent": "wrk", "auth": "", "remoteIP": "127.0.0.1", "userIP": "127.0.0.1"})  # fmt: skip
            return log_id, 0, f"GET {url}", data, stamp

        for chunk in range(0, rows, 100_000):
            db.executemany('INSERT OR IGNORE INTO "_logs" ("id", "level", "message", "data", "created") VALUES (?, ?, ?, ?, ?)',
                           (row(i) for i in range(chunk, min(chunk + 100_000, rows))))  # fmt: skip
        for _, sql in indexes:
            db.execute(sql)


def measure(server: Server, path: str, seconds: int, connections: int, script: Path | None = None) -> dict[str, Any]:
    before_rows = server.logged()
    watch = RssWatch(server)
    cpu0 = run.cpu_seconds(server.pid)
    started = time.monotonic()
    lua = ["-s", str(script)] if script is not None else []
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *lua, server.base + path],
                         capture_output=True, text=True, timeout=seconds + 120).stdout  # fmt: skip
    wall = time.monotonic() - started
    cpu = run.cpu_seconds(server.pid) - cpu0
    rows_at_end = server.logged() - before_rows
    after_cpu, after_s, idle = run.catch_up(server, CATCH_UP_LIMIT)
    peak_kb = watch.stop()
    rows_after = server.logged() - before_rows
    total = re.search(r"(\d+) requests in", out)
    if not total or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{server.name} {path}: wrk said\n{out}")
    requests = int(total.group(1))
    return {
        "requests": requests,
        "rps": requests / wall,
        "cpu_us": 1e6 * cpu / requests,
        # the logs API reads made here are requests too: at most three rows more than the run's
        "logged_at_end": min(rows_at_end / requests, 1.0),
        "logged_after": min(rows_after / requests, 1.0),
        "after_s": after_s,
        "idle": idle,
        "all_in_us": 1e6 * (cpu + after_cpu) / requests,
        "peak_rss_mib": peak_kb / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--duration", type=int, default=30, help="seconds of each wrk run (default 30)")
    ap.add_argument("--scenarios", default="health,view",
                    help="health, view and varied (health with a query string of its own per request); default health,view")  # fmt: skip
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--grown-log", type=int, default=0, metavar="N",
                    help="fill each server's request log with N rows before the runs (default 0)")  # fmt: skip
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not scenarios or set(scenarios) - {"health", "view", "varied"}:
        sys.exit("--scenarios takes health, view and/or varied")
    if args.grown_log < 0:
        sys.exit("--grown-log takes a number of rows, 0 or more")

    work = Path(tempfile.mkdtemp(prefix="roost-sustained-"))
    pocketbase, roost = run.find_binary("pocketbase"), run.find_binary("roost")
    servers = []
    for name, tool in (("roost", roost), ("pocketbase", pocketbase)):
        data = work / name
        subprocess.run([tool, "superuser", "upsert", floor.SU_EMAIL, floor.SU_PASSWORD, "--dir", str(data)],
                       check=True, capture_output=True)  # fmt: skip
        port = run.free_port()
        servers.append(Server(name, [tool, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data)], port=port))

    script = work / "varied.lua"
    script.write_text(VARIED_LUA)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        for server in servers:
            server.start()
            server.seed()
            if args.grown_log:
                server.stop()
                began = time.monotonic()
                fill_log(work / server.name, args.grown_log, "time" if server.name == "roost" else "random")
                print(f"{server.name}: {args.grown_log:,} rows added to the request log in {time.monotonic() - began:.0f} s", flush=True)
                server.start()
                server.seed_login()
        for scenario in scenarios:
            for server in servers:
                run.settle(servers)
                path = server.view if scenario == "view" else "/api/health"
                res = measure(server, path, args.duration, args.connections, script if scenario == "varied" else None)
                results[(server.name, scenario)] = res
                print(f"{scenario:7} {server.name:11} {res['rps']:>9,.0f} req/s {res['cpu_us']:>6.1f} µs/req during; "
                      f"{100 * res['logged_at_end']:.0f}% logged at the end; busy {res['after_s']:.1f} s more"
                      f"{'' if res['idle'] else ' (never idle)'}; all-in {res['all_in_us']:.1f} µs/req; "
                      f"peak RSS {res['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    grown = f"; {args.grown_log:,} rows in each request log beforehand" if args.grown_log else ""
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s per server and scenario; {os.cpu_count()} CPUs{grown}\n")
    print("| scenario | server | req/s during the run | CPU µs/req during | request log rows at the end "
          "| busy after (s) | all-in CPU µs/req | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for scenario in scenarios:
        for server in servers:
            r = results[(server.name, scenario)]
            print(f"| {scenario} | {server.name} | {r['rps']:,.0f} | {r['cpu_us']:.1f} | {100 * r['logged_at_end']:.0f}% "
                  f"| {r['after_s']:.1f}{'' if r['idle'] else '+'} | {r['all_in_us']:.1f} | {r['peak_rss_mib']:.0f} |")  # fmt: skip
    print("\n| scenario | Roost/PocketBase req/s during the run | PocketBase/Roost all-in CPU per request "
          "| PocketBase/Roost peak RSS |")
    print("|---|---:|---:|---:|")
    for scenario in scenarios:
        r, p = results[("roost", scenario)], results[("pocketbase", scenario)]
        print(f"| {scenario} | {r['rps'] / p['rps']:.2f} | {p['all_in_us'] / r['all_in_us']:.2f} "
              f"| {p['peak_rss_mib'] / r['peak_rss_mib']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
