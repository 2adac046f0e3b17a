"""Two ``roost serve`` processes on one PostgreSQL schema, joined by Redis or LISTEN/NOTIFY."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .servers import (
    PG_URL,
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    LiveServer,
    ServiceUnavailable,
    _pg_schema,
    _run_checked,
    _subprocess_env,
    _wait_healthy,
    free_port,
    roost_kind,
)

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BROKERS = ["redis", "listen-notify"]


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def instance_pair(tmp_path: Path, broker: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Instances A and B; ``broker`` is ``redis`` or ``listen-notify``. Skips (or fails under
    ``ROOST_TEST_SERVICES=required``) when PostgreSQL or Redis is missing."""
    from .conftest import skip_unavailable

    if broker == "redis" and not _redis_reachable():
        skip_unavailable("Redis not reachable at 127.0.0.1:6379")
    try:
        schema, drop = _pg_schema()
    except ServiceUnavailable as exc:
        skip_unavailable(str(exc))
    env = _subprocess_env() | {"ROOST_DB_URL": PG_URL, "ROOST_DB_SCHEMA": schema}
    if broker == "redis":
        env["ROOST_REDIS_URL"] = REDIS_URL
    kind = roost_kind()
    _run_checked(kind.upsert_superuser(tmp_path, SUPERUSER_EMAIL, SUPERUSER_PASSWORD), tmp_path, env)
    servers: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = (tmp_path / f"{name}.log").open("ab")
            process = subprocess.Popen(kind.serve(tmp_path / name, port), cwd=tmp_path, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            live = LiveServer("roost-pg", f"http://127.0.0.1:{port}", tmp_path / name, process, tmp_path / f"{name}.log")
            servers.append(live)
            assert _wait_healthy(live), live.log_tail()
        yield servers[0], servers[1]
    finally:
        for live in servers:
            live.stop()
        drop()
