"""Serving Roost over HTTP: the one code path that starts uvicorn, for one worker or N.

``roost serve`` and ``Roost.run()`` both come here, so every worker count gets the same
server options: the socket peer stays the client address (``proxy_headers=False``; forwarded
headers count only through the ``trustedProxy`` settings, as in PocketBase), and the connection
limits of :mod:`roost.server.protocol` plus the WebSocket message cap apply. Tracing
(:mod:`roost.tools.tracing`, from the ``OTEL_*`` variables) is configured in each serving process.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
from typing import Any

import uvicorn

from roost.config import Config
from roost.server.protocol import ConnectionGuard
from roost.server.supervisor import STARTUP_FAILURE, Plan, raise_open_file_limit, supervise
from roost.tools import tracing
from roost.tools.structured_logs import configure as configure_logs

#: the import string each worker process builds its app from (configuration from ROOST_*)
WORKER_FACTORY = "roost.app:worker_asgi"
PROTOCOL = "roost.server.protocol:GuardedHttpToolsProtocol"
supervisor_log = logging.getLogger("roost.server")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the connection guard its protocol reads.

    With ``own_logging`` (the CLI) every process, the master and each worker, sends all its
    log records to stdout as structured lines (:mod:`roost.tools.structured_logs`); uvicorn's own
    loggers then only propagate to that handler. Otherwise uvicorn configures its loggers as usual
    and the root logger stays the embedding application's.
    """

    def __init__(self, app: Any, config: Config, *, own_logging: bool = False, **options: Any) -> None:
        host, _, port = config.listen_address.rpartition(":")
        if config.https:
            options = {"ssl_certfile": str(config.tls_cert), "ssl_keyfile": str(config.tls_key), **options}
        # read by configure_logging, which uvicorn calls from __init__
        self.structured_logs = (config.logs_format, config.log_level) if own_logging else None
        if own_logging:
            options["log_config"] = None
        super().__init__(
            app, host=host or "127.0.0.1", port=int(port), workers=config.workers, http=PROTOCOL,
            proxy_headers=False, ws_max_size=config.ws_max_message, log_level="warning", access_log=False,
            **options,
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
    several workers this process supervises them (:mod:`roost.server.supervisor`); with ``slim``
    (``roost serve``, whose process has loaded all of Roost for its start-up checks) it first
    replaces itself with ``python -m roost.server``, a fresh interpreter that loads only the
    supervisor and the hub: the same process id, and about 25 instead of 92 MiB for as long as
    the server runs.
    """
    if asgi is not None and config.workers > 1:
        raise ValueError("workers > 1 need the app built in each process: run `roost serve --workers N`")
    if config.workers > 1:
        export_config(config)
        plan = plan_of(config, own_logging=own_logging)
        if slim and sys.executable:
            _exec_supervisor(plan)
        supervise(plan)
        return
    if asgi is None:
        export_config(config)
    tracing.configure()  # with more workers each one configures its own (roost.app.worker_asgi)
    server_config = ServerConfig(asgi or WORKER_FACTORY, config, factory=asgi is None, own_logging=own_logging)
    raise_open_file_limit()
    server = RoostServer(server_config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


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


def plan_of(config: Config, *, own_logging: bool) -> Plan:
    """What :mod:`roost.server.supervisor` needs of ``config``, resolved."""
    host, _, port = config.listen_address.rpartition(":")
    return Plan(
        workers=config.workers, host=host or "127.0.0.1", port=int(port), hub=not config.redis_url,
        metrics=config.metrics, logs=(config.logs_format, config.log_level) if own_logging else None,
    )  # fmt: skip


def _exec_supervisor(plan: Plan) -> None:
    """Become ``python -m roost.server --workers N --plan JSON`` (the workers read the rest of the
    configuration from ROOST_*); returns only when the exec itself fails, and then this process
    supervises."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-m", "roost.server", "--workers", str(plan.workers), "--plan", plan.dumps()]
    try:
        os.execv(sys.executable, command)
    except OSError as exc:
        supervisor_log.warning("could not start a slim supervisor (%s); supervising from this process", exc)


def export_config(config: Config) -> None:
    """Hand the configuration to the worker processes as ROOST_* variables."""
    for key, value in config.model_dump(exclude={"workers", "hub_url"}).items():
        if value not in (None, ""):
            os.environ[f"ROOST_{key.upper()}"] = str(value)
    # each worker sees workers=1; hand it its share of the pool budget, resolved here
    os.environ["ROOST_DB_POOL_SIZE"] = str(config.pool_size)
