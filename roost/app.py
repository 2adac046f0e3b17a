"""Composition root: Config -> core App -> plugins -> the ASGI app that starts it.

``Roost(config, plugins=[...])`` builds the core app and lets each plugin register on it. Nothing
is opened until the app starts: from the server's lifespan, or, when ``Roost(...).asgi`` is
mounted inside another ASGI app (which does not forward lifespan events), on the first request.
Starting bootstraps the database, fires ``on_serve`` (where plugins add routes and middleware),
builds the HTTP stack and starts the background jobs.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import click
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.apis.middleware.stack import BODY_SEND
from roost.apis.route_group import RouteGroup
from roost.apis.router import Router
from roost.config import Config
from roost.core.app import App
from roost.core.events import ServeEvent
from roost.plugins import builtin_plugins
from roost.plugins.hooks_dir.api import HookAPI
from roost.plugins.hooks_dir.registrations import Registration, Target, apply_all
from roost.server.serving import serve
from roost.tools import tracing
from roost.tools.metrics import multiprocess as metrics_dir


class Plugin(Protocol):
    """An optional feature. Subclass it and override what the plugin provides."""

    def register(self, app: App) -> None:
        """Bind hooks on ``app.hooks`` (routes and middleware in ``on_serve``) and jobs on ``app.jobs``."""

    def commands(self) -> Sequence[click.Command]:
        """CLI commands added to ``Roost(...).cli()``; they get the ``Roost`` as click's ``obj``."""
        return ()


class RoostASGI:
    """The ASGI app of one Roost: starts it once (lifespan or first request), then serves."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._served: ASGIApp | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served = self._served
        if served is None or scope["type"] == "lifespan":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
                return
            served = await self.start()
        # the server's own send, for a stream's body frames: every layer of the stack acts on
        # the response start alone, and an SSE stream written past them all, straight to
        # uvicorn's response cycle, can write from the fan-out loop (roost.apis.realtime.sse)
        scope[BODY_SEND] = send
        try:
            await served(scope, receive, send)
        finally:
            # the scope belongs to the server's response cycle and the send is bound to it: left
            # in place, the pair is a reference cycle that only the garbage collector frees
            scope.pop(BODY_SEND, None)

    @property
    def started(self) -> bool:
        return self._served is not None

    async def start(self) -> ASGIApp:
        """Bootstrap, fire ``on_serve`` and build the HTTP stack (once; later calls return it)."""
        async with self._lock:
            if self._served is None:
                self._served = await self._start()
            return self._served

    async def stop(self) -> None:
        """Close the app (a no-op unless started)."""
        async with self._lock:
            if self._served is not None:
                self._served = None
                await self.app.close()

    async def _start(self) -> ASGIApp:
        router = Router()
        built: list[ASGIApp] = []

        async def build(_: ServeEvent) -> None:
            built.append(router.build(self.app))

        try:
            await self.app.bootstrap()
            await self.app.serve(router, build)
            if not built:
                raise RuntimeError(
                    "an on_serve handler returned without calling e.next(): nothing to serve"
                )
        except BaseException:
            await self.app.close()
            raise
        return built[0]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # the same messages as Starlette's own lifespan, so servers report failures alike
        started = False
        await receive()  # lifespan.startup
        try:
            await self.start()
            await send({"type": "lifespan.startup.complete"})
            started = True
            await receive()  # lifespan.shutdown
            await self.stop()
        except BaseException:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})


class Roost(HookAPI):
    """A Roost server. ``Roost(Config(...)).asgi`` is an ASGI app; ``.run()`` serves it.

    Its decorators register at once: ``@server.on_record_create("posts")``,
    ``@server.route("GET", "/api/hello/{name}")``, ``@server.cron("digest", "@daily")``.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        plugins: Sequence[Plugin] = (),
        builtins: bool = True,
        **overrides: Any,
    ) -> None:
        self.config = config or Config(**overrides)
        self.app = App(self.config)
        #: the caller's plugins (the built-in ones register first and are not listed here)
        self.plugins = list(plugins)
        for plugin in [*(builtin_plugins() if builtins else ()), *self.plugins]:
            plugin.register(self.app)
        self.asgi = RoostASGI(self.app)
        self._builtins = builtins
        #: routes added with :meth:`route` (they may be added while the app serves)
        self.routes = RouteGroup()
        #: what the decorators registered, in order
        self.registrations: list[Registration] = []
        self.app.hooks.on_serve.bind(self._serve_routes)

    def _register(self, registration: Registration) -> None:
        apply_all(Target(self.app, self.routes), [registration])
        self.registrations.append(registration)

    def with_config(self, config: Config) -> Roost:
        """A new Roost on ``config`` with the same plugins and decorator registrations (``roost serve`` flags)."""
        server = type(self)(config, plugins=self.plugins, builtins=self._builtins)
        for registration in self.registrations:
            server._register(registration)
        return server

    async def _serve_routes(self, e: ServeEvent) -> None:
        if isinstance(e.router, Router):
            e.router.add_route_group(self.routes)
        await e.next()

    async def start(self) -> None:
        """Start now instead of on the first request (when mounted in another ASGI app)."""
        await self.asgi.start()

    async def stop(self) -> None:
        """Stop the background jobs and close the database, broker and caches."""
        await self.asgi.stop()

    @asynccontextmanager
    async def lifespan(self, _: Any = None) -> AsyncIterator[None]:
        """A lifespan for the ASGI app this one is mounted in: ``Starlette(..., lifespan=server.lifespan)``."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def run(self) -> None:
        """Serve this app in this process (``roost serve --workers N`` runs several)."""
        serve(self.config, self.asgi)

    def commands(self) -> click.Group:
        """The ``roost`` command line with the plugins' commands added."""
        from roost.cli import main  # the command line, loaded only when it runs

        group = click.Group(main.name, commands=dict(main.commands), help=main.help, params=list(main.params))
        for plugin in self.plugins:
            for command in plugin.commands():
                group.add_command(command)
        return group

    def cli(self, args: Sequence[str] | None = None) -> None:
        """Run the command line for this app (``python myapp.py serve``); exits the process."""
        self.commands().main(args=list(args) if args is not None else None, obj=self)

def worker_asgi() -> Any:
    """The ASGI app of one ``roost serve --workers N`` process (configuration from the
    environment, see :func:`roost.server.serving.export_config`)."""
    tracing.configure()
    metrics_dir.use_known_pid()
    return Roost(Config()).asgi
