#!/usr/bin/env python3
"""A local Roost cluster on loopback: N ``roost serve`` instances on PostgreSQL + Redis behind a proxy.

    .venv/bin/python deploy/local/cluster.py                 # 3 instances behind nginx on :8090
    .venv/bin/python deploy/local/cluster.py --proxy caddy   # or apache
    .venv/bin/python deploy/local/cluster.py --stop          # stop everything it started
    .venv/bin/python deploy/local/cluster.py --stop --purge  # ... and drop the schema

PostgreSQL and Redis must already run (``--db-url``/``--redis-url``). Every instance shares one
PostgreSQL schema (created if missing) and one Redis database; the proxy balances round robin
with no sticky sessions. State (pids, rendered proxy config, logs) lives in ``--state-dir``.
The test suite imports ``start_cluster`` from here (``tests/e2e/test_cluster_proxy.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PROXIES = ("nginx", "caddy", "apache")
DEFAULT_STATE_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "roost-cluster"
APACHE_MODULES = "/usr/lib/apache2/modules"


class Unavailable(Exception):
    """A service or binary the cluster needs is missing."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proxy_binary(proxy: str) -> str:
    name = {"nginx": "nginx", "caddy": "caddy", "apache": "apache2"}[proxy]
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if not found:
        raise Unavailable(f"{name} is not installed (apt-get install {name})")
    return found


def roost_command() -> list[str]:
    script = Path(sys.executable).parent / "roost"
    if script.exists():
        return [str(script)]
    if shutil.which("roost"):
        return ["roost"]
    return [sys.executable, "-m", "roost"]


def _env(db_url: str, schema: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(ROOST_DB_URL=db_url, ROOST_DB_SCHEMA=schema, ROOST_REDIS_URL=redis_url)
    return env


def _pg_execute(db_url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(db_url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"PostgreSQL not reachable at {db_url}: {type(exc).__name__}: {exc}") from exc


def redis_reachable(redis_url: str) -> bool:
    host_port = redis_url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
            return reply.startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=timeout) as res:
            return int(res.status) == 200
    except OSError:
        return False


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, deadline_s: float = 30.0) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if healthy(url):
            return True
        time.sleep(0.05)
    return False


def render(template: str, values: dict[str, str]) -> str:
    text = (HERE / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    return text


@dataclass
class Instance:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Cluster:
    proxy: str
    proxy_url: str
    state_dir: Path
    db_url: str
    schema: str
    redis_url: str
    instances: list[Instance]
    proxy_process: subprocess.Popen[bytes]
    created_schema: bool = False
    _stopped: bool = field(default=False, repr=False)

    def kill_instance(self, index: int, sig: int = signal.SIGKILL) -> None:
        process = self.instances[index].process
        os.kill(process.pid, sig)
        process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        out = []
        paths = [i.log_path for i in self.instances] + sorted(self.state_dir.glob(f"{self.proxy}*.log"))
        for path in paths:
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def stop(self, *, purge: bool = False) -> None:
        if self._stopped:
            return
        self._stopped = True
        _terminate([self.proxy_process, *(i.process for i in self.instances)])
        if purge and self.created_schema:
            _pg_execute(self.db_url, f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(purge=True)


def _terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _start_proxy(proxy: str, state_dir: Path, port: int, upstreams: list[str]) -> subprocess.Popen[bytes]:
    binary = proxy_binary(proxy)
    run_dir = str(state_dir)
    log = (state_dir / f"{proxy}-stdout.log").open("ab")
    if proxy == "nginx":
        servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
        conf = state_dir / "nginx.conf"
        conf.write_text(render("nginx.conf.template", {"RUN_DIR": run_dir, "LISTEN_PORT": str(port),
                                                       "UPSTREAM_SERVERS": servers}))
        command = [binary, "-p", run_dir, "-c", str(conf), "-e", f"{run_dir}/nginx-error.log"]
    elif proxy == "caddy":
        conf = state_dir / "Caddyfile"
        conf.write_text(render("Caddyfile.template", {"RUN_DIR": run_dir, "LISTEN_PORT": str(port),
                                                      "UPSTREAMS": " ".join(upstreams)}))
        command = [binary, "run", "--config", str(conf), "--adapter", "caddyfile"]
    else:
        members = "\n".join(f"    BalancerMember http://{u} connectiontimeout=2 retry=5 flushpackets=on upgrade=websocket" for u in upstreams)
        conf = state_dir / "apache.conf"
        conf.write_text(render("apache.conf.template", {"RUN_DIR": run_dir, "LISTEN_PORT": str(port),
                                                        "BALANCER_MEMBERS": members,
                                                        "APACHE_MODULES": APACHE_MODULES}))
        command = [binary, "-DFOREGROUND", "-f", str(conf)]
    env = dict(os.environ, HOME=run_dir, XDG_DATA_HOME=run_dir, XDG_CONFIG_HOME=run_dir)
    return subprocess.Popen(command, cwd=state_dir, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def start_cluster(
    state_dir: Path,
    *,
    proxy: str = "nginx",
    instances: int = 3,
    port: int = 0,
    db_url: str = "postgresql://postgres@127.0.0.1:5432/postgres",
    redis_url: str = "redis://127.0.0.1:6379/0",
    schema: str = "",
    superuser: tuple[str, str] = ("admin@roost.local", "roost-cluster-pw"),
) -> Cluster:
    """Start ``instances`` Roost processes and ``proxy`` in front of them; raise ``Unavailable``."""
    if proxy not in PROXIES:
        raise ValueError(f"unknown proxy {proxy!r}")
    proxy_binary(proxy)
    if not redis_reachable(redis_url):
        raise Unavailable(f"Redis not reachable at {redis_url}")
    state_dir.mkdir(parents=True, exist_ok=True)
    schema = schema or "cluster_" + secrets.token_hex(5)
    _pg_execute(db_url, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    env = _env(db_url, schema, redis_url)
    roost = roost_command()
    # One data dir on one machine stands in for shared storage (S3 across machines).
    data_dir = state_dir / "data"
    data_dir.mkdir(exist_ok=True)
    email, password = superuser
    subprocess.run([*roost, "superuser", "upsert", email, password, "--dir", str(data_dir)],
                   cwd=state_dir, env=env, check=True, capture_output=True, timeout=120)
    started: list[Instance] = []
    try:
        for n in range(instances):
            instance_port = free_port()
            log_path = state_dir / f"roost-{n}.log"
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    # one process per instance: the cluster shows instances joined by Redis
                    [*roost, "serve", "--http", f"127.0.0.1:{instance_port}", "--dir", str(data_dir), "--workers", "1"],
                    cwd=state_dir, env=dict(env, ROOST_INSTANCE_ID=f"roost-{n}"), stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )
            started.append(Instance(f"http://127.0.0.1:{instance_port}", process, log_path))
        for instance in started:
            if not wait_healthy(instance.url, instance.process):
                raise RuntimeError(f"{instance.url} did not become healthy:\n{instance.log_path.read_text()[-2000:]}")
        proxy_port = port or free_port()
        upstreams = [i.url.removeprefix("http://") for i in started]
        proxy_process = _start_proxy(proxy, state_dir, proxy_port, upstreams)
    except BaseException:
        _terminate([i.process for i in started])
        raise
    cluster = Cluster(proxy, f"http://127.0.0.1:{proxy_port}", state_dir, db_url, schema, redis_url,
                      started, proxy_process, created_schema=True)
    if not wait_healthy(cluster.proxy_url, proxy_process, 20):
        tail = cluster.log_tail()
        cluster.stop()
        raise RuntimeError(f"{proxy} did not become healthy:\n{tail}")
    (state_dir / "cluster.json").write_text(json.dumps({
        "proxy": proxy, "proxy_url": cluster.proxy_url, "db_url": db_url, "schema": schema,
        "redis_url": redis_url, "pids": [proxy_process.pid, *(i.process.pid for i in started)],
        "instances": [i.url for i in started],
    }, indent=2))
    return cluster


def stop_from_state(state_dir: Path, *, purge: bool = False) -> None:
    """``--stop``: SIGTERM every pid recorded in ``cluster.json`` (SIGKILL after 10 s)."""
    state_file = state_dir / "cluster.json"
    if not state_file.exists():
        print(f"no cluster state in {state_dir}")
        return
    state = json.loads(state_file.read_text())
    pids = [int(pid) for pid in state["pids"]]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        time.sleep(0.1)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    if purge:
        _pg_execute(state["db_url"], f'DROP SCHEMA IF EXISTS "{state["schema"]}" CASCADE')
    state_file.unlink()
    print(f"stopped {len(pids)} processes" + (f", dropped schema {state['schema']}" if purge else ""))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of nobody we know: treat as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proxy", choices=PROXIES, default="nginx")
    parser.add_argument("--port", type=int, default=8090, help="proxy port on 127.0.0.1 (default 8090)")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--db-url", default=os.environ.get("ROOST_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--schema", default=os.environ.get("ROOST_DB_SCHEMA", "roost_cluster"))
    parser.add_argument("--redis-url", default=os.environ.get("ROOST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--superuser", default="admin@roost.local:roost-cluster-pw", help="email:password")
    parser.add_argument("--stop", action="store_true", help="stop the cluster recorded in --state-dir")
    parser.add_argument("--purge", action="store_true", help="with --stop: also drop the schema")
    args = parser.parse_args(argv)
    if args.stop:
        stop_from_state(args.state_dir, purge=args.purge)
        return 0
    if (args.state_dir / "cluster.json").exists():
        print(f"a cluster is already recorded in {args.state_dir}; run with --stop first", file=sys.stderr)
        return 1
    email, _, password = args.superuser.partition(":")
    try:
        cluster = start_cluster(args.state_dir, proxy=args.proxy, instances=args.instances, port=args.port,
                                db_url=args.db_url, redis_url=args.redis_url, schema=args.schema,
                                superuser=(email, password))
    except Unavailable as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"{args.proxy} on {cluster.proxy_url} -> " + ", ".join(i.url for i in cluster.instances))
    print(f"schema {cluster.schema}, redis {cluster.redis_url}, superuser {email}")
    print(f"state and logs in {args.state_dir}; stop with: {sys.argv[0]} --stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
