"""A Roost server process the reliability tests may kill, restart and signal.

Unlike ``tests.e2e.servers.start_server`` this keeps the data dir and port across restarts and
passes extra ``serve`` flags, so a test can SIGKILL the server and bring the same one back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.canary import CANARY
from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import (
    PG_URL,
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    ServiceUnavailable,
    _pg_schema,
    _run_checked,
    _subprocess_env,
    free_port,
    roost_kind,
)

START_TIMEOUT = 60.0  # several workers start slowly on a loaded machine
#: the deployments of ``backend_server``: one SQLite process, two workers on one SQLite file
#: (joined by Redis, or by the serving process's embedded hub), and PostgreSQL
BACKENDS = ("sqlite", "sqlite-workers", "sqlite-hub", "postgres")


@dataclass
class RoostProcess:
    """One ``roost serve`` (one process, or a uvicorn master with workers) on a fixed port."""

    root: Path
    extra: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    schema: str = field(default_factory=lambda: "t_" + secrets.token_hex(6))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _env(self) -> dict[str, str]:
        # a schema name of its own also keeps this server's broker channels apart on a shared Redis
        return {**_subprocess_env(), "ROOST_DB_SCHEMA": self.schema, **self.env}

    def start(self) -> None:
        """Start (or restart) the server and wait until ``/api/health`` answers 200."""
        command = roost_kind().base_command
        if not self.data_dir.exists():
            self.data_dir.mkdir(parents=True)
            _run_checked([*command, "superuser", "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, "--dir", str(self.data_dir)],
                         self.root, self._env())  # fmt: skip
        serve = [
            *command,
            "serve",
            "--http",
            f"127.0.0.1:{self.port}",
            "--dir",
            str(self.data_dir),
            *self.extra,
        ]
        with (self.root / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                serve, cwd=self.root, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        CANARY.watch_server(self.base_url, self.data_dir, self.root / "server.log")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill9()  # never leave a server that missed its deadline running past the test
        raise RuntimeError(f"roost did not become healthy:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The worker processes under a ``--workers`` master (empty for one process)."""
        assert self.process is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def kill9(self) -> None:
        """SIGKILL the whole server (master and workers), as a crash or an OOM kill would."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
        CANARY.server_stopped(self.base_url)

    def superuser_token(self) -> str:
        res = httpx.post(
            f"{self.base_url}/api/collections/_superusers/auth-with-password",
            json={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}, timeout=10,
        )  # fmt: skip
        res.raise_for_status()
        return str(res.json()["token"])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(
                (self.root / "server.log").read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""


@contextlib.contextmanager
def backend_server(kind: str, root: Path) -> Iterator[RoostProcess]:
    """A started ``RoostProcess`` for one of ``BACKENDS``; skips when its service is missing."""
    extra: tuple[str, ...] = ()
    env: dict[str, str] = {}
    drop = None
    if kind == "sqlite-workers":
        if not _redis_reachable():
            skip_or_fail("Redis not reachable at 127.0.0.1:6379")
        extra = ("--workers", "2", "--redis-url", REDIS_URL)
    if kind == "sqlite-hub":
        extra = ("--workers", "2")
        env = {"ROOST_REDIS_URL": ""}
    if kind == "postgres":
        try:
            schema, drop = _pg_schema()
        except ServiceUnavailable as exc:
            skip_or_fail(str(exc))
        env = {"ROOST_DB_URL": PG_URL, "ROOST_DB_SCHEMA": schema}
    proc = RoostProcess(root, extra=extra, env=env)
    try:
        proc.start()  # a start that times out leaves the server running: stop it below
        yield proc
    finally:
        proc.stop()
        if drop is not None:
            drop()
