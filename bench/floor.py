#!/usr/bin/env python3
"""The floor under Roost's HTTP figures: what the ASGI server alone answers, beside PocketBase.

    .venv/bin/python bench/floor.py                        # uvicorn only, 5 s rounds, 2 rounds
    .venv/bin/python bench/floor.py --granian /path/to/venv/bin/granian --rounds 3

For ``/api/health`` (and a record view where the server has records) it serves, one after the
other in alternating wrk rounds (``wrk -t1 -c32``, on the same cores):

* PocketBase;
* ``roost serve`` (its default: one worker per core, uvicorn);
* a bare ASGI app that answers PocketBase's health body and does nothing else, on uvicorn with
  the same worker count, uvloop and httptools: no framework, no middleware, no database;
* with ``--granian BIN`` (Granian is not a Roost dependency: install it in a venv of its own that
  also has Roost, e.g. ``pip install granian -e .``), the bare app on Granian and Roost's worker
  app on Granian (``roost.app:worker_asgi`` with the JSON request lines of ``roost serve``; no
  supervisor, so no embedded hub, which neither path here touches).

It prints req/s, the ratio to PocketBase and the server CPU per request (utime + stime of the
process tree / requests). The bare app's figure is the most any Roost build could reach on that
server: the rest of a Roost request's cost is its own stack (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SU_EMAIL, SU_PASSWORD = "floor@example.com", "floor-password-1"
BARE_APP = '''
BODY = b'{"message":"API is healthy.","code":200,"data":{}}'
HEAD = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEAD})
    await send({"type": "http.response.body", "body": BODY})
'''
ROOST_ON_GRANIAN = '''
from roost.tools.structured_logs import configure


def app():
    configure("json", "info")  # the request lines roost serve writes
    from roost.app import worker_asgi

    return worker_asgi()
'''


def _load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run = _load_run()


@dataclass
class Target:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: the path of one record to view, once seeded ("" = the target has no records)
    view: str = ""
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        """With ``name`` and ``pid``, what ``bench/run.py``'s ``settle`` reads of a server."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        # not in the caller's directory: ``roost serve`` starts its supervisor and workers with
        # ``python -m``, which puts the current directory first on the path, so from inside a
        # checkout they would run that checkout's Roost whatever PYTHONPATH names
        self.proc = subprocess.Popen(self.argv, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, cwd=tempfile.gettempdir())  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if run.http(self.base, "GET", "/api/health", timeout=2)[0] == 200:
                    return
            except Exception:
                if self.proc.poll() is not None:
                    sys.exit(f"{self.name} exited with {self.proc.returncode}: {' '.join(self.argv)}")
                time.sleep(0.2)
        sys.exit(f"{self.name} did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def seed(base: str) -> str:
    """A public ``posts`` collection with one record; returns the record's view path."""
    login = run.must(base, "POST", "/api/collections/_superusers/auth-with-password",
                     {"identity": SU_EMAIL, "password": SU_PASSWORD})  # fmt: skip
    collection = {"name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
                  "fields": [{"name": "title", "type": "text"}, {"name": "views", "type": "number"}]}  # fmt: skip
    run.must(base, "POST", "/api/collections", collection, token=login["token"])
    record = run.must(base, "POST", "/api/collections/posts/records", {"title": "hello", "views": 3})
    return f"/api/collections/posts/records/{record['id']}"


def wrk(target: Target, path: str, seconds: int, connections: int) -> dict[str, Any]:
    cpu0 = run.cpu_seconds(target.pid)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", target.base + path],
                         capture_output=True, text=True, timeout=seconds + 60).stdout  # fmt: skip
    cpu = run.cpu_seconds(target.pid) - cpu0
    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not total or not rps or "Non-2xx" in out:
        raise RuntimeError(f"{target.name} {path}: wrk said\n{out}")
    requests = int(total.group(1))
    return {"rps": float(rps.group(1)), "cpu_us": 1e6 * cpu / requests}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk round (default 5)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes of the bare app")
    ap.add_argument("--granian", default="", metavar="BIN", help="also serve both apps with this granian")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="roost-floor-"))
    (work / "bare_app.py").write_text(BARE_APP)
    (work / "roost_granian.py").write_text(ROOST_ON_GRANIAN)
    pocketbase, roost = run.find_binary("pocketbase"), run.find_binary("roost")
    python = str(Path(roost).parent / "python")
    for tool, data in ((pocketbase, work / "pb"), (roost, work / "roost")):
        subprocess.run([tool, "superuser", "upsert", SU_EMAIL, SU_PASSWORD, "--dir", str(data)],
                       check=True, capture_output=True)  # fmt: skip

    targets: list[Target] = []

    def add(name: str, argv: list[str], env: dict[str, str] | None = None) -> Target:
        target = Target(name, argv, env or {})
        target.port = run.free_port()
        target.argv = [a.replace("{port}", str(target.port)) for a in argv]
        targets.append(target)
        return target

    add("pocketbase", [pocketbase, "serve", "--http", "127.0.0.1:{port}", "--dir", str(work / "pb")])
    add("roost serve", [roost, "serve", "--http", "127.0.0.1:{port}", "--dir", str(work / "roost")])
    add("bare ASGI on uvicorn", [python, "-m", "uvicorn", "bare_app:app", "--port", "{port}", "--workers",
        str(args.workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level",
        "warning", "--app-dir", str(work)])  # fmt: skip
    if args.granian:
        granian = [args.granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", "--workers",
                   str(args.workers), "--loop", "uvloop", "--runtime-mode", "st", "--log-level", "warning",
                   "--working-dir", str(work)]  # fmt: skip
        add("bare ASGI on Granian", [*granian, "bare_app:app"])
        (work / "metrics").mkdir()
        add("Roost's app on Granian", [*granian, "--factory", "roost_granian:app"],
            {"ROOST_DATA_DIR": str(work / "roost"), "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")})  # fmt: skip

    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for target in targets[:2]:
            target.start()
            target.view = seed(target.base)
        for target in targets[2:]:  # after the seeding: Roost on Granian has no hub to hear of it
            target.start()
            if target.name.startswith("Roost"):
                target.view = targets[1].view  # the same data directory as roost serve
        for round_no in range(1, args.rounds + 1):
            for target in targets:
                for label, path in (("health", "/api/health"), ("view", target.view)):
                    if not path:
                        continue
                    run.settle(targets)  # PocketBase writes a round's request logs after it
                    res = wrk(target, path, args.duration, args.connections)
                    results.setdefault((target.name, label), []).append(res)
                    print(f"round {round_no} {target.name:24} {label:7} {res['rps']:>10,.0f} req/s "
                          f"{res['cpu_us']:>7.0f} us CPU/request", flush=True)  # fmt: skip
    finally:
        for target in targets:
            target.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} alternating rounds, medians; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| server | scenario | req/s | / PocketBase | server CPU µs/request |")
    print("|---|---|---:|---:|---:|")
    for label in ("health", "view"):
        pb = statistics.median(r["rps"] for r in results[("pocketbase", label)])
        for target in targets:
            rounds = results.get((target.name, label))
            if not rounds:
                continue
            rps = statistics.median(r["rps"] for r in rounds)
            cpu = statistics.median(r["cpu_us"] for r in rounds)
            print(f"| {target.name} | {label} | {rps:,.0f} | {rps / pb:.2f} | {cpu:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
