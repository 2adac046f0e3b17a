"""Serving Roost over HTTP: the one code path that starts uvicorn, for one worker or N.

``roost serve`` and ``Roost.run()`` both come here, so every worker count gets the same
server options: the socket peer stays the client address (``proxy_headers=False``; forwarded
headers count only through the ``trustedProxy`` settings, as in PocketBase), and the connection
limits of :mod:`roost.server.protocol` plus the WebSocket message cap apply.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from roost.config import Config
from roost.server.protocol import ConnectionGuard

#: the import string each worker process builds its app from (configuration from ROOST_*)
WORKER_FACTORY = "roost.server:worker_asgi"
PROTOCOL = "roost.server.protocol:GuardedHttpToolsProtocol"


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the connection guard its protocol reads (pickled to workers)."""

    def __init__(self, app: Any, config: Config, **options: Any) -> None:
        host, _, port = config.http.rpartition(":")
        super().__init__(
            app, host=host or "127.0.0.1", port=int(port), workers=config.workers, http=PROTOCOL,
            proxy_headers=False, ws_max_size=config.ws_max_message, log_level="warning", access_log=False,
            **options,
        )  # fmt: skip
        self.connection_guard = ConnectionGuard(
            header_timeout=config.header_timeout,
            max_header_size=config.max_header_size,
            max_connections_per_ip=config.max_connections_per_ip,
        )


def serve(config: Config, asgi: Any = None) -> None:
    """Serve ``asgi`` (one process), or build the app in each of ``config.workers`` processes."""
    if asgi is not None and config.workers > 1:
        raise ValueError("workers > 1 need the app built in each process: run `roost serve --workers N`")
    if asgi is None:
        export_config(config)
    server_config = ServerConfig(asgi or WORKER_FACTORY, config, factory=asgi is None)
    raise_open_file_limit()
    server = uvicorn.Server(server_config)
    if server_config.workers > 1:
        Multiprocess(server_config, sockets=[server_config.bind_socket()]).run()
        return
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE


def export_config(config: Config) -> None:
    """Hand the configuration to the worker processes as ROOST_* variables."""
    for key, value in config.model_dump(exclude={"workers"}).items():
        if value not in (None, ""):
            os.environ[f"ROOST_{key.upper()}"] = str(value)
    # each worker sees workers=1; hand it its share of the pool budget, resolved here
    os.environ["ROOST_DB_POOL_SIZE"] = str(config.pool_size)


def worker_asgi() -> Any:
    """The ASGI app of one worker process (configuration from the environment)."""
    from roost.app import Roost

    return Roost(Config()).asgi


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one, as the Go runtime does for PocketBase, so
    the per-IP caps, not the process's descriptor table, decide when connections are refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
