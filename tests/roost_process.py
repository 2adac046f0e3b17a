"""A ``roost serve`` subprocess with the flags and environment a test chooses (one worker or N)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.servers import (
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    LiveServer,
    _run_checked,
    _subprocess_env,
    _wait_healthy,
    free_port,
    roost_kind,
)


@contextmanager
def roost_process(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Serve a fresh data dir in ``tmp_path`` with ``flags`` added to ``roost serve``; stopped on exit.

    ``ROOST_DB_SCHEMA`` defaults to a random name: on SQLite it only keeps this server's broker
    channels apart from other tests sharing the same Redis.
    """
    kind = roost_kind()
    environment = _subprocess_env() | {"ROOST_DB_SCHEMA": "t_" + secrets.token_hex(6)} | (env or {})
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _run_checked(kind.upsert_superuser(data_dir, SUPERUSER_EMAIL, SUPERUSER_PASSWORD), tmp_path, environment)
    log_path = tmp_path / "server.log"
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen([*kind.serve(data_dir, port), *flags], cwd=tmp_path, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    server = LiveServer("roost", f"http://127.0.0.1:{port}", data_dir, process, log_path)
    try:
        assert _wait_healthy(server), server.log_tail()
        yield server
    finally:
        server.stop()
