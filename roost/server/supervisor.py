"""The parent process of ``roost serve --workers N``.

It binds the listening sockets (one per worker, joined with SO_REUSEPORT so the kernel spreads
new connections over the workers), hosts the embedded hub the workers share when there is no
Redis, prepares the metrics directory, and starts each worker as
``python -m roost.server.worker`` with its socket and one end of a control socket. Over the
control socket it asks each worker every half second whether it is alive and serving; a worker
that has died or does not answer within ``HEALTHCHECK_TIMEOUT`` is replaced. A worker that
exits with uvicorn's start-up failure code stops the server, since its replacement would fail
the same way.

Signals: SIGINT and SIGTERM stop the workers and then the supervisor; SIGHUP replaces the
workers one at a time, each replacement serving before its predecessor is told to stop;
SIGTTIN and SIGTTOU add and remove a worker.

The supervisor imports neither uvicorn nor Roost's configuration nor the app, and starts its
workers with :mod:`subprocess` rather than :mod:`multiprocessing` (whose spawn method keeps a
resource-tracker process beside them): a default ``roost serve`` is the supervisor and one
process per worker. What it needs of the configuration arrives resolved, as a :class:`Plan`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from roost.tools import metrics_dir
from roost.tools.hub.server import HubThread
from roost.tools.structured_logs import configure as configure_logs

#: seconds a worker may take to answer a health check before it is killed and replaced (a new
#: worker on a busy machine may need most of it to import and start)
HEALTHCHECK_TIMEOUT = 30.0
#: seconds between the supervisor's rounds of health checks and signal handling
ROUND = 0.5
#: seconds between looks at the signal queue while a worker's answer is pending
SLICE = 0.2
#: the exit code of a worker whose server failed to start (uvicorn's STARTUP_FAILURE)
STARTUP_FAILURE = 3
#: a health check's question, and the answers: serving, or still starting
ASK, SERVING, STARTING = b"?", b"1", b"0"
log = logging.getLogger("roost.server")


@dataclass(frozen=True)
class Plan:
    """What the supervisor needs to know, resolved from Roost's configuration by the caller."""

    workers: int
    host: str
    port: int
    #: start the embedded hub (no ``redis_url``): its address goes to the workers as ROOST_HUB_URL
    hub: bool
    #: record metrics: a multiprocess directory is prepared before the first worker starts
    metrics: bool
    #: (format, level) when the server owns logging (``roost serve``); the workers get the flag
    logs: tuple[str, str] | None = None

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Plan:
        data = json.loads(text)
        logs = data.get("logs")
        return cls(**{**data, "logs": tuple(logs) if logs else None})


class Worker:
    """One worker process and the supervisor's end of its control socket."""

    def __init__(self, sockets: list[socket.socket], own_logging: bool) -> None:
        self.control, theirs = socket.socketpair()
        fds = [s.fileno() for s in sockets]
        command = [sys.executable, "-m", "roost.server.worker", "--sockets", ",".join(map(str, fds)),
                   "--control", str(theirs.fileno())]  # fmt: skip
        if own_logging:
            command.append("--own-logging")
        try:
            self.process = subprocess.Popen(command, pass_fds=(*fds, theirs.fileno()))
        finally:
            theirs.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def ask(self, timeout: float, interrupted: threading.Event | None = None, queue: list[int] | None = None) -> bytes | None:
        """Ask whether the worker serves: :data:`SERVING`, :data:`STARTING`, or None when it has
        ended or gave no answer within ``timeout``. Gives up early, answering :data:`SERVING`,
        once ``interrupted`` is set or a signal waits in ``queue`` (it is handled first)."""
        if self.process.poll() is not None:
            return None
        deadline = time.monotonic() + timeout
        try:
            self.control.sendall(ASK)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                readable, _, _ = select.select([self.control], [], [], min(SLICE, left))
                if readable:
                    answer = self.control.recv(1)
                    return answer if answer in (SERVING, STARTING) else None
                if (interrupted is not None and interrupted.is_set()) or queue:
                    return SERVING
        except OSError:
            return None

    def wait_until_serving(self, timeout: float, interrupted: threading.Event) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not interrupted.is_set():
            answer = self.ask(min(1.0, max(deadline - time.monotonic(), 0.01)))
            if answer == SERVING:
                return True
            if answer is None and self.process.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def terminate(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            log.info("Terminated worker [%s]", self.pid)
        self.control.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.control.close()

    def join(self) -> None:
        self.process.wait()


class Supervisor:
    """Starts ``plan.workers`` workers on ``sockets`` and keeps them running until a stop signal."""

    def __init__(self, plan: Plan, sockets: list[socket.socket]) -> None:
        self.plan = plan
        self.should_exit = threading.Event()
        self.failed = False
        self.signal_queue: list[int] = []
        self.sockets = [sockets, *(reuse_port_twin(sockets) for _ in range(plan.workers - 1))]
        self.workers: list[Worker] = []
        self._handlers: dict[int, Callable[[], None]] = {
            signal.SIGINT: self._stop, signal.SIGTERM: self._stop, signal.SIGHUP: self.restart_all,
            signal.SIGTTIN: self._add, signal.SIGTTOU: self._remove,
        }  # fmt: skip
        for sig in self._handlers:
            signal.signal(sig, lambda sig, _frame: self.signal_queue.append(sig))

    def run(self) -> None:
        log.info("Started parent process [%s]", os.getpid())
        self.workers = [self._start(idx) for idx in range(len(self.sockets))]
        while not self.should_exit.wait(ROUND):
            self.handle_signals()
            self.keep_workers_alive()
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            log.info("Waiting for worker [%s]", worker.pid)
            worker.join()
        self._forget({w.pid for w in self.workers})
        log.info("Stopping parent process [%s]", os.getpid())

    def _start(self, idx: int) -> Worker:
        return Worker(self.sockets[idx], own_logging=self.plan.logs is not None)

    def handle_signals(self) -> None:
        while self.signal_queue:
            self._handlers[self.signal_queue.pop(0)]()

    def _stop(self) -> None:
        log.info("Received a stop signal, exiting.")
        self.should_exit.set()

    def keep_workers_alive(self) -> None:
        for idx, worker in enumerate(self.workers):
            if self.should_exit.is_set() or self.signal_queue:
                return  # a signal is waiting: handle it first (a stop replaces no worker)
            if worker.ask(HEALTHCHECK_TIMEOUT, self.should_exit, self.signal_queue) is not None:
                continue
            worker.kill()  # dead or hung
            worker.join()
            self._forget({worker.pid})
            if worker.exitcode == STARTUP_FAILURE:
                # it failed before serving: the app, TLS or the socket is broken, and a new
                # worker would fail the same way
                log.error("Worker [%s] failed to start; stopping the server.", worker.pid)
                self.failed = True
                self.should_exit.set()
                return
            log.info("Worker [%s] died; starting another", worker.pid)
            self.workers[idx] = self._start(idx)

    def restart_all(self) -> None:
        """SIGHUP: replace each worker in turn, bringing its replacement in before the old one goes."""
        log.info("Received SIGHUP, replacing the workers.")
        for idx, old in enumerate(self.workers):
            if self.should_exit.is_set():
                return
            replacement = self._start(idx)
            if not replacement.wait_until_serving(HEALTHCHECK_TIMEOUT, self.should_exit):
                replacement.kill()
                replacement.join()
                if not self.should_exit.is_set():
                    log.error("Worker [%s] was not ready in time; keeping [%s]", replacement.pid, old.pid)
                return
            old.terminate()
            old.join()
            self._forget({old.pid})
            self.workers[idx] = replacement

    def _add(self) -> None:
        log.info("Received SIGTTIN, adding a worker.")
        self.sockets.append(reuse_port_twin(self.sockets[0]))
        self.workers.append(self._start(len(self.sockets) - 1))

    def _remove(self) -> None:
        if len(self.workers) <= 1:
            log.info("Received SIGTTOU; one worker is left, so it stays.")
            return
        log.info("Received SIGTTOU, removing a worker.")
        worker = self.workers.pop()
        worker.terminate()
        worker.join()
        self._forget({worker.pid})
        for sock in self.sockets.pop():
            if sock not in self.sockets[0]:
                sock.close()

    def _forget(self, pids: set[int]) -> None:
        """Drop the live gauges (in-flight requests, open streams, pool use) of workers that ended."""
        for pid in pids:
            metrics_dir.mark_process_dead(pid)


def supervise(plan: Plan) -> None:
    """Serve with ``plan.workers`` workers until stopped; exits with the start-up failure code
    when a worker failed to start."""
    if plan.logs is not None:
        configure_logs(*plan.logs)
    raise_open_file_limit()
    made = None
    if plan.metrics:
        path, ours = metrics_dir.prepare_dir()
        made = path if ours else None
    hub = None
    if plan.hub:
        hub = HubThread()
        hub.start()
        os.environ["ROOST_HUB_URL"] = hub.url
    supervisor = None
    try:
        supervisor = Supervisor(plan, listening_socket(plan.host, plan.port))
        supervisor.run()
    finally:
        if hub is not None:
            hub.stop()
            os.environ.pop("ROOST_HUB_URL", None)
        if made is not None:
            metrics_dir.remove_dir(made)
    if supervisor.failed:
        sys.exit(STARTUP_FAILURE)


def listening_socket(host: str, port: int) -> list[socket.socket]:
    """The first worker's listening socket, bound with SO_REUSEPORT so that the other workers'
    sockets (:func:`reuse_port_twin`) can join it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return [_bind(family, (host, port), reuse_port=hasattr(socket, "SO_REUSEPORT"))]
    except OSError as exc:
        log.error("%s", exc)
        sys.exit(STARTUP_FAILURE)


def reuse_port_twin(sockets: list[socket.socket]) -> list[socket.socket]:
    """A listening socket on the same TCP address as ``sockets[0]`` with SO_REUSEPORT (the
    shared socket itself where that is not possible)."""
    shared = sockets[0]
    if not hasattr(socket, "SO_REUSEPORT"):
        return sockets
    try:
        return [_bind(shared.family, shared.getsockname()[:2], reuse_port=True)]
    except OSError:
        return sockets


def _bind(family: int, address: tuple[str, int], *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one, as the Go runtime does for PocketBase, so
    the per-IP caps, not the process's descriptor table, decide when connections are refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
