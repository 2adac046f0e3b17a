"""Serving Roost over HTTP: the one code path that starts uvicorn, for one worker or N.

``roost serve`` and ``Roost.run()`` both come here, so every worker count gets the same
server options: the socket peer stays the client address (``proxy_headers=False``; forwarded
headers count only through the ``trustedProxy`` settings, as in PocketBase), and the connection
limits of :mod:`roost.server.protocol` plus the WebSocket message cap apply. Tracing
(:mod:`roost.tools.tracing`, from the ``OTEL_*`` variables) is configured in each serving process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import resource
import socket
import sys
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from roost.config import Config
from roost.server.protocol import ConnectionGuard
from roost.tools import tracing
from roost.tools.hub import HubThread
from roost.tools.metrics import multiprocess as metrics_dir
from roost.tools.structured_logs import configure as configure_logs

#: the import string each worker process builds its app from (configuration from ROOST_*)
#: each worker process builds its own app (configuration from the environment)
WORKER_FACTORY = "roost.app:worker_asgi"
PROTOCOL = "roost.server.protocol:GuardedHttpToolsProtocol"
#: seconds a worker may take to answer the supervisor's health ping before it is killed and
#: replaced; uvicorn's 5 s killed workers still importing on a busy machine, over and over
WORKER_HEALTHCHECK_TIMEOUT = 30
#: seconds between looks at the signal queue while a worker's health check is pending
HEALTHCHECK_SLICE = 0.2
supervisor_log = logging.getLogger("uvicorn.error")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the connection guard its protocol reads (pickled to workers).

    With ``own_logging`` (the CLI) every process, the master and each worker, sends all its
    log records to stdout as structured lines (:mod:`roost.tools.structured_logs`); uvicorn's own
    loggers then only propagate to that handler. Otherwise uvicorn configures its loggers as usual
    and the root logger stays the embedding application's.
    """

    def __init__(self, app: Any, config: Config, *, own_logging: bool = False, **options: Any) -> None:
        host, _, port = config.listen_address.rpartition(":")
        if config.https:
            options = {"ssl_certfile": str(config.tls_cert), "ssl_keyfile": str(config.tls_key), **options}
        # read by configure_logging, which uvicorn calls from __init__ and again in each worker
        self.structured_logs = (config.logs_format, config.log_level) if own_logging else None
        if own_logging:
            options["log_config"] = None
        super().__init__(
            app, host=host or "127.0.0.1", port=int(port), workers=config.workers, http=PROTOCOL,
            proxy_headers=False, ws_max_size=config.ws_max_message, log_level="warning", access_log=False,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT, **options,
        )  # fmt: skip
        self.connection_guard = ConnectionGuard(
            header_timeout=config.header_timeout,
            body_timeout=config.body_timeout,
            max_header_size=config.max_header_size,
            max_connections_per_ip=config.max_connections_per_ip,
        )

    def configure_logging(self) -> None:
        super().configure_logging()
        if self.structured_logs is not None:
            configure_logs(*self.structured_logs)


def serve(config: Config, asgi: Any = None, *, own_logging: bool = False, slim: bool = False) -> None:
    """Serve ``asgi`` (one process), or build the app in each of ``config.workers`` processes.

    ``own_logging`` (``roost serve``) makes every process log structured lines to stdout. With
    ``slim`` (``roost serve``, whose process has loaded all of Roost for its start-up checks) and
    several workers, this process replaces itself with :mod:`roost.server.__main__`, a fresh
    interpreter that loads only the supervisor and the hub: the same process id, and about 45
    instead of 92 MiB for as long as the server runs.
    """
    if asgi is not None and config.workers > 1:
        raise ValueError("workers > 1 need the app built in each process: run `roost serve --workers N`")
    if asgi is None:
        export_config(config)
        if slim and config.workers > 1 and sys.executable and not getattr(sys, "frozen", False):
            _exec_supervisor(config.workers)
    if config.workers == 1:
        tracing.configure()  # with more workers each one configures its own (roost.app.worker_asgi)
    server_config = ServerConfig(asgi or WORKER_FACTORY, config, factory=asgi is None, own_logging=own_logging)
    raise_open_file_limit()
    server = RoostServer(server_config)
    if server_config.workers > 1:
        _serve_workers(config, server_config)
        return
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE


class RoostServer(uvicorn.Server):
    """uvicorn's server, which moves what the app built at start-up out of the collector's way.

    A worker holds tens of thousands of long-lived objects once the app has started (modules,
    the schema, compiled rules). Python's full collections walked all of them, a few times a
    minute under load (30 to 70 ms each); frozen, they are skipped."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            gc.collect()
            gc.freeze()


class WorkerProcess(Process):
    """A worker of :class:`Supervisor`: runs :class:`RoostServer`."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = RoostServer(config=self.config)
        return self._server


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, which also tells the metrics when a worker has ended, so
    its live gauges (in-flight requests, open streams, pool use) leave the totals.

    Its health check of the workers stays responsive to signals: a replacement worker still
    importing on a busy machine may take most of ``WORKER_HEALTHCHECK_TIMEOUT`` to answer, and
    waiting for it in one blocking poll held a SIGTERM unanswered for that long."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        #: each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
        #: connections over the workers; on one shared socket the busiest worker took them all
        #: (a keep-alive client, or a proxy's pooled connections, then used one core)
        self.worker_sockets = [sockets, *(_reuse_port_twin(sockets) for _ in range(self.processes_num - 1))]

    def _process(self, idx: int) -> Process:
        return WorkerProcess(self.config, self.worker_sockets[idx])

    def init_processes(self) -> None:
        for idx in range(self.processes_num):
            process = self._process(idx)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        """SIGHUP: replace each worker in turn, bringing its replacement in before the old one goes."""
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            replacement = self._process(idx)
            replacement.start()
            if not replacement.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                replacement.kill()
                replacement.join()
                if not self.should_exit.is_set():
                    supervisor_log.error("Worker [%s] was not ready in time; keeping [%s]", replacement.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[idx] = replacement

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        for idx, process in enumerate(self.processes):
            if self.should_exit.is_set() or self.signal_queue:
                break  # a signal is waiting: handle it first (a stop replaces no worker)
            if self._answers(process):
                continue
            process.kill()  # dead or hung
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # it failed before serving: the app, TLS or the socket is broken, and a new worker
                # would fail the same way
                supervisor_log.error("Worker [%s] failed to start; stopping the server.", process.pid)
                self.should_exit.set()
                break
            supervisor_log.info("Worker [%s] died; starting another", process.pid)
            replacement = self._process(idx)
            replacement.start()
            self.processes[idx] = replacement
        self._forget(before)

    def _answers(self, process: Process) -> bool:
        """Does ``process`` answer a ping within the health-check timeout? Polls in short slices
        and gives up early (counting it alive) once a signal is waiting."""
        if not process.process.is_alive():
            return False
        deadline = time.monotonic() + self.config.timeout_worker_healthcheck
        try:
            process.parent_conn.send(b"ping")
            while not process.parent_conn.poll(HEALTHCHECK_SLICE):
                if self.should_exit.is_set() or self.signal_queue:
                    return True
                if time.monotonic() >= deadline:
                    return False
            process.parent_conn.recv()
        except (OSError, EOFError, pickle.UnpicklingError):
            return False
        return True

    def handle_signals(self) -> None:
        before = self._pids()
        super().handle_signals()
        self._forget(before)

    def _pids(self) -> set[int]:
        return {p.pid for p in self.processes if p.pid is not None}

    def _forget(self, before: set[int]) -> None:
        for pid in before - self._pids():
            metrics_dir.mark_process_dead(pid)


def _bind_reuse_port(family: int, address: tuple[str, int]) -> socket.socket:
    """An inheritable TCP socket bound to ``address`` with SO_REUSEADDR and SO_REUSEPORT."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _reuse_port_socket(config: ServerConfig) -> socket.socket:
    """uvicorn's listening socket, bound with SO_REUSEPORT for a TCP address so that the other
    workers' sockets (:func:`_reuse_port_twin`) can join it."""
    if config.uds is not None or config.fd is not None or not hasattr(socket, "SO_REUSEPORT"):
        return config.bind_socket()
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    try:
        return _bind_reuse_port(family, (config.host, config.port))
    except OSError as exc:
        supervisor_log.error("%s", exc)
        sys.exit(STARTUP_FAILURE)


def _reuse_port_twin(sockets: list[socket.socket]) -> list[socket.socket]:
    """A listening socket on the same TCP address as ``sockets[0]`` with SO_REUSEPORT (the
    shared socket itself where that is not possible: not TCP, or no SO_REUSEPORT)."""
    shared = sockets[0]
    if shared.family not in (socket.AF_INET, socket.AF_INET6) or not hasattr(socket, "SO_REUSEPORT"):
        return sockets
    try:
        return [_bind_reuse_port(shared.family, shared.getsockname()[:2])]
    except OSError:
        return sockets


def _serve_workers(config: Config, server_config: ServerConfig) -> None:
    """Run the workers; with metrics on, in prometheus-client's multiprocess mode, with a
    directory set up before any worker starts and removed when the server stops.

    Without ``redis_url`` the workers share this process's embedded hub (broker, store,
    rate-limit and cache counters), which lives as long as the supervisor."""
    made = None
    if config.metrics:
        path, ours = metrics_dir.prepare_dir()
        made = path if ours else None
    hub = None
    if not config.redis_url:
        hub = HubThread()
        hub.start()
        os.environ["ROOST_HUB_URL"] = hub.url
    try:
        Supervisor(server_config, sockets=[_reuse_port_socket(server_config)]).run()
    finally:
        if hub is not None:
            hub.stop()
            os.environ.pop("ROOST_HUB_URL", None)
        if made is not None:
            metrics_dir.remove_dir(made)


def _exec_supervisor(workers: int) -> None:
    """Become ``python -m roost.server --workers N`` (configuration from ROOST_*, as the workers
    read it); returns only when the exec itself fails, and then this process supervises."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-m", "roost.server", "--workers", str(workers)])
    except OSError as exc:
        supervisor_log.warning("could not start a slim supervisor (%s); supervising from this process", exc)


def supervise(workers: int) -> None:
    """The supervisor of ``roost serve --workers N`` after :func:`_exec_supervisor`."""
    config = Config().model_copy(update={"workers": workers})
    server_config = ServerConfig(WORKER_FACTORY, config, factory=True, own_logging=True)
    raise_open_file_limit()
    _serve_workers(config, server_config)


def export_config(config: Config) -> None:
    """Hand the configuration to the worker processes as ROOST_* variables."""
    for key, value in config.model_dump(exclude={"workers", "hub_url"}).items():
        if value not in (None, ""):
            os.environ[f"ROOST_{key.upper()}"] = str(value)
    # each worker sees workers=1; hand it its share of the pool budget, resolved here
    os.environ["ROOST_DB_POOL_SIZE"] = str(config.pool_size)


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one, as the Go runtime does for PocketBase, so
    the per-IP caps, not the process's descriptor table, decide when connections are refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
