"""One worker of ``roost serve --workers N``: ``python -m roost.server.worker``, started by
:mod:`roost.server.supervisor` with its listening sockets and one end of a control socket as
inherited file descriptors.

The worker builds its app from the ROOST_* variables the serve command exported and serves on
the sockets it was given. A thread answers the supervisor's health checks on the control
socket (serving, or still starting). When the supervisor is gone (the control socket closes
without a stop signal, for example after a SIGKILL), the worker stops as on SIGTERM: it
finishes its requests and exits instead of serving on unsupervised.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading

from roost.config import Config
from roost.server.serving import WORKER_FACTORY, RoostServer, ServerConfig
from roost.server.supervisor import ASK, SERVING, STARTING, STARTUP_FAILURE


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m roost.server.worker")
    parser.add_argument("--sockets", required=True, help="listening socket descriptors, comma-separated")
    parser.add_argument("--control", required=True, type=int, help="the control socket's descriptor")
    parser.add_argument("--own-logging", action="store_true")
    args = parser.parse_args(argv)
    sockets = [socket.socket(fileno=int(fd)) for fd in args.sockets.split(",")]
    control = socket.socket(fileno=args.control)
    server = RoostServer(ServerConfig(WORKER_FACTORY, Config(), factory=True, own_logging=args.own_logging))
    threading.Thread(target=answer_health_checks, args=(control, server), daemon=True).start()
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def answer_health_checks(control: socket.socket, server: RoostServer) -> None:
    """Answer each question on ``control``; stop the server once the supervisor has gone."""
    try:
        while control.recv(1) == ASK:
            control.sendall(SERVING if server.started else STARTING)
    except OSError:
        pass
    if not server.should_exit:
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main(sys.argv[1:])
