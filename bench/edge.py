#!/usr/bin/env python3
"""What each layer of Roost's HTTP edge costs, in CPU microseconds per request.

Two measurements, both of CPU time rather than throughput, so they hold on a loaded machine:

* ``asgi``: in one process, the built ASGI stack is called directly with a synthetic scope
  N times, whole, then with the HTTP edge's metrics and its request log each left out, then the
  router alone. No socket and no server: this is the Python cost of each part.
* ``server``: ``roost serve`` on loopback, one keep-alive connection sending N requests; the
  server process's utime+stime (``/proc/PID/stat``) before and after, divided by N. Each variant
  is a flag or setting that exists: ``--no-metrics``, the request-log rows (``logs.maxDays`` 0),
  the stdout request line (``--log-level warning`` drops it), and all three off.

Both run on ``/api/health`` and a record view (``GET /api/collections/posts/records/{id}``,
public view rule). ``python bench/edge.py [--asgi-only | --server-only] [-n N]``; stdlib plus
Roost itself. Numbers go to stdout as a table, and ``--json PATH`` keeps them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SU_EMAIL = "edge@roost.local"
SU_PASSWORD = "edge-password-123"
POSTS = {
    "name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "views", "type": "number"}],
}  # fmt: skip
HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"user-agent", b"bench-edge/1"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip"),
]


# ------------------------------------------------------------------------------------------
# in-process: the ASGI stack, layer by layer
# ------------------------------------------------------------------------------------------


class _NoRequestLog:
    """Stands in for the edge's request logger: nothing is logged."""

    def wanted(self) -> tuple[bool, bool]:
        return False, False


def _variants(outer: Any) -> dict[str, Any]:
    """The whole stack, the HTTP edge with each of its optional parts left out (copies of it),
    and the router alone (plus any plugin middleware, of which this bench adds none)."""
    from roost.apis.middleware.stack import HttpEdge

    edge = outer
    while not isinstance(edge, HttpEdge):  # the tracing layer, when it is on
        edge = edge.app
    variants = {"whole stack": outer}
    if edge.metrics is not None:
        variants["without metrics"] = copy.copy(edge)
        variants["without metrics"].metrics = None
    variants["without the request log (row and line)"] = copy.copy(edge)
    variants["without the request log (row and line)"].request_log = _NoRequestLog()

    async def routes_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["app"], scope["starlette.exception_handlers"] = edge.app, edge.exception_handlers
        await edge.routes(scope, receive, send)

    variants["router + handler only"] = routes_only
    return variants


async def _drive(asgi: Any, path: str, n: int, flush: Callable[[], Awaitable[Any]], body: bytes = b"") -> float:
    """CPU µs per request of ``n`` synthetic GETs of ``path``, or POSTs of the JSON ``body``
    when there is one (the response is checked)."""
    raw_path, _, query = path.partition("?")
    statuses: list[int] = []
    method, headers = "GET", list(HEADERS)
    if body:
        method = "POST"
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def scope() -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": raw_path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "headers": list(headers),
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8090), "state": {},
        }  # fmt: skip

    for _ in range(min(n, 200)):  # warm-up
        await asgi(scope(), receive, send)
    await flush()
    statuses.clear()
    t0 = time.process_time()
    for _ in range(n):
        await asgi(scope(), receive, send)
    await flush()  # the request-log rows these requests queued are written on this clock
    spent = time.process_time() - t0
    if set(statuses) != {200}:
        raise RuntimeError(f"{path}: statuses {sorted(set(statuses))}")
    return spent / n * 1e6


async def seeded_roost(work: Path) -> tuple[Any, str]:
    """A started Roost in ``work`` with the superuser, the posts collection and one post (its id)."""
    import httpx

    from roost.app import Roost
    from roost.config import Config
    from roost.core.superusers import manage_superuser

    server = Roost(Config(data_dir=work / "data"))
    await server.start()
    try:
        await manage_superuser(server.app, "upsert", SU_EMAIL, SU_PASSWORD)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://x") as c:
            login = await c.post("/api/collections/_superusers/auth-with-password", json={"identity": SU_EMAIL, "password": SU_PASSWORD})
            auth = {"Authorization": login.json()["token"]}
            (await c.post("/api/collections", json=POSTS, headers=auth)).raise_for_status()
            rec = (await c.post("/api/collections/posts/records", json={"title": "hello", "views": 3}, headers=auth)).json()
    except BaseException:
        await server.stop()
        raise
    return server, str(rec["id"])


async def asgi_table(n: int, repeat: int, stdout_line: bool) -> list[dict[str, Any]]:
    from roost.tools.structured_logs import configure, unconfigure

    work = Path(tempfile.mkdtemp(prefix="roost-edge-"))
    server, record_id = await seeded_roost(work)
    try:
        if stdout_line:  # as under `roost serve`: JSON lines on stdout (here into a buffer)
            configure("json", "info", stream=io.StringIO())
        variants = _variants(await server.asgi.start())
        gc.collect()
        gc.freeze()  # the app's start-up objects: no full collection walks them mid-measurement
        rows: list[dict[str, Any]] = []
        for label, path in (("health", "/api/health"), ("view", f"/api/collections/posts/records/{record_id}")):
            best = dict.fromkeys(variants, float("inf"))
            for _ in range(repeat):  # round-robin, the lowest of each: load only ever adds
                for name, asgi in variants.items():
                    best[name] = min(best[name], await _drive(asgi, path, n, server.app.logs.flush))
            whole = best["whole stack"]
            for name, us in best.items():
                row = {"path": label, "variant": name, "us": us}
                if name != "whole stack":
                    row["layer_us"] = whole - us
                rows.append(row)
        if stdout_line:
            unconfigure()
        return rows
    finally:
        await server.stop()
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# a real server: CPU of the server process per request
# ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    """utime+stime of ``pid`` and its descendants (the workers and the hub of a default serve)."""
    total = 0
    for proc in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        proc = todo.pop()
        found.append(proc)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{proc}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = token
    conn.request(method, path, None if body is None else json.dumps(body), headers)
    res = conn.getresponse()
    data = res.read()
    if res.status >= 300:
        raise RuntimeError(f"{method} {path}: {res.status} {data[:200]!r}")
    return json.loads(data) if data else None


class Served:
    """One ``roost serve`` with ``flags``, a superuser, the posts collection and one record."""

    def __init__(self, roost: str, flags: list[str], work: Path, source: str = "") -> None:
        self.port = _free_port()
        data = work / f"data-{self.port}"
        subprocess.run([roost, "superuser", "upsert", SU_EMAIL, SU_PASSWORD, "--dir", str(data)], check=True, capture_output=True)
        self.log = (work / f"serve-{self.port}.log").open("wb")
        # another Roost source tree (``--baseline``) goes first on the path; the server runs in
        # ``work``, since its supervisor and workers (``python -m``) put their current directory
        # before PYTHONPATH, and from inside a checkout they would run that checkout's Roost
        env = {**os.environ, "PYTHONPATH": source} if source else None
        self.proc = subprocess.Popen([roost, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", str(data), *flags],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=work)  # fmt: skip
        self.conn = self._connect()
        self.token = _call(self.conn, "POST", "/api/collections/_superusers/auth-with-password",
                           {"identity": SU_EMAIL, "password": SU_PASSWORD})["token"]  # fmt: skip
        with contextlib.suppress(RuntimeError):  # a second variant on the same data
            _call(self.conn, "POST", "/api/collections", POSTS, self.token)
        self.record = _call(self.conn, "POST", "/api/collections/posts/records", {"title": "hello", "views": 3}, self.token)["id"]

    def _connect(self) -> http.client.HTTPConnection:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"roost serve exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                _call(conn, "GET", "/api/health")
                return conn
            time.sleep(0.2)
        raise RuntimeError("roost serve did not answer")

    def cpu_us(self, path: str, n: int) -> float:
        for _ in range(200):
            _call(self.conn, "GET", path)
        before = _cpu(self.proc.pid)
        for _ in range(n):
            _call(self.conn, "GET", path)
        return (_cpu(self.proc.pid) - before) / n * 1e6

    def set_logs(self, max_days: int) -> None:
        _call(self.conn, "PATCH", "/api/settings", {"logs": {"maxDays": max_days}}, self.token)

    def stop(self) -> None:
        self.conn.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def server_table(roost: str, n: int, repeat: int, baseline: str = "") -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="roost-edge-serve-"))
    variants: list[tuple[str, list[str], Callable[[Served], None] | None]] = [
        ("default", [], None),
        ("request-log rows off (logs.maxDays 0)", [], lambda s: s.set_logs(0)),
        ("stdout request line off (--log-level warning)", ["--log-level", "warning"], None),
        ("metrics off (--no-metrics)", ["--no-metrics"], None),
        ("all three off", ["--no-metrics", "--log-level", "warning"], lambda s: s.set_logs(0)),
    ]
    rows: list[dict[str, Any]] = []
    try:
        builds = [("", ""), (" [baseline]", baseline)] if baseline else [("", "")]
        for label, flags, setup in variants:
            for suffix, source in builds:  # this build and the baseline one after the other
                served = Served(roost, flags, work, source)
                try:
                    if setup is not None:
                        setup(served)
                    for path_label, path in (("health", "/api/health"), ("view", f"/api/collections/posts/records/{served.record}")):
                        # the lowest of a few runs: other processes' load only ever adds to it
                        us = min(served.cpu_us(path, n) for _ in range(repeat))
                        rows.append({"path": path_label, "variant": label + suffix, "us": us})
                        print(f"  {path_label:<6} {label + suffix:<60} {us:8.1f} µs", file=sys.stderr, flush=True)
                finally:
                    served.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}\n")
    print("| path | variant | CPU µs/request | layer cost µs |")
    print("|---|---|---:|---:|")
    for r in rows:
        layer = f"{r['layer_us']:.1f}" if "layer_us" in r else ""
        print(f"| {r['path']} | {r['variant']} | {r['us']:.1f} | {layer} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=3000, help="requests per measurement (default 3000)")
    ap.add_argument("--repeat", type=int, default=3, help="server runs per variant; the lowest counts (default 3)")
    ap.add_argument("--asgi-only", action="store_true")
    ap.add_argument("--server-only", action="store_true")
    ap.add_argument("--roost-bin", default=str(Path(sys.executable).parent / "roost"))
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--baseline", default="", metavar="SRC",
                    help="a Roost source tree (e.g. `git archive main | tar -x -C /tmp/base`) served alternately "
                    "with this one, for a before/after in one run")  # fmt: skip
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    if not args.server_only:
        out["asgi_no_stdout_line"] = asyncio.run(asgi_table(args.n, args.repeat, stdout_line=False))
        print_table("In process, no stdout handler (Roost as a library)", out["asgi_no_stdout_line"])
        out["asgi"] = asyncio.run(asgi_table(args.n, args.repeat, stdout_line=True))
        print_table("In process, JSON request lines as under `roost serve`", out["asgi"])
    if not args.asgi_only:
        out["server"] = server_table(args.roost_bin, args.n, args.repeat, args.baseline)
        print_table(f"`roost serve`, one keep-alive connection, {args.n} requests, server CPU", out["server"])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
