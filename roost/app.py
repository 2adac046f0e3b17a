"""Composition root: Config -> core App -> HTTP app."""

from __future__ import annotations

from typing import Any

from roost.apis.router import build_asgi
from roost.config import Config
from roost.core.app import App


class Roost:
    """A Roost server. ``Roost(Config(...)).asgi`` is an ASGI app; ``.run()`` serves it."""

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        self.config = config or Config(**overrides)
        self.app = App(self.config)
        self.asgi = build_asgi(self.app)

    def run(self) -> None:
        import uvicorn

        host, _, port = self.config.http.rpartition(":")
        # proxy_headers=False: the peer address stays the socket's, as in PocketBase; forwarded
        # headers count only through the trustedProxy settings (rate limits, logs, realIP)
        uvicorn.run(self.asgi, host=host or "127.0.0.1", port=int(port), log_level="warning",
                    access_log=False, proxy_headers=False)  # fmt: skip
