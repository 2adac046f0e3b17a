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
        """Serve this app in this process (``roost serve --workers N`` runs several)."""
        from roost.server import serve

        serve(self.config, self.asgi)
