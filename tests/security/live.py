"""``roost serve`` with extra flags on a free loopback port, for the connection-level tests."""

from __future__ import annotations

import shutil
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
def roost_serve(root: Path, *flags: str) -> Iterator[LiveServer]:
    """A fresh SQLite data dir with one superuser, served with ``flags``; stopped on exit."""
    kind = roost_kind()
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _run_checked(kind.upsert_superuser(data_dir, SUPERUSER_EMAIL, SUPERUSER_PASSWORD), root)
    log_path = root / "server.log"
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*kind.serve(data_dir, port), *flags], cwd=root, env=_subprocess_env(),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    server = LiveServer("roost", f"http://127.0.0.1:{port}", data_dir, process, log_path)
    try:
        assert _wait_healthy(server), server.log_tail()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
