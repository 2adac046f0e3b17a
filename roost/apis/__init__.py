"""Roost's HTTP layer: every built-in route, and the one place the ASGI stack is assembled.

The stack, outermost first (each layer is plain ASGI, so the hot path adds no task or copy):

- :class:`~roost.apis.middleware.tracing.TracingMiddleware`, only while tracing is on
  (:mod:`roost.tools.tracing`): the server span of each request;
1. :class:`~roost.apis.middleware.stack.HttpEdge`, one layer doing, in order: metrics per route
   template (while metrics are on) and one entry per finished request for ``app.logs`` (the
   ``logs`` settings); request id, CORS, security headers and the body limit (a route may
   declare its own); the ``superuserIPs`` setting; the ``rateLimits`` setting; and the
   last-resort error envelope around all that follows;
2. the middleware plugins add in ``on_serve``, in the order they were added;
3. the router: built-in routes, then plugin routes, then the 404 catch-all. Starlette's own
   error layers are not on the path: the edge puts the routes' exception handlers in the scope,
   as they would, and answers anything else with the 500 envelope.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from roost.apis import (
    aggregate,
    api_keys,
    backups,
    batch,
    collections,
    crons,
    dashboard,
    files,
    graphql,
    health,
    logs,
    metrics,
    records,
    settings,
    transfer,
)
from roost.apis.auth import mail, oauth2, passkeys, sessions, totp
from roost.apis.auth import routes as auth
from roost.apis.errors import CATCH_ALL, EXCEPTION_HANDLERS
from roost.apis.middleware.stack import HttpEdge
from roost.apis.openapi import document
from roost.apis.realtime import sse
from roost.apis.route_index import IndexedRouter
from roost.core.app import App
from roost.core.auth.session_guard import origin_of, trusted_origins
from roost.tools import tracing
from roost.tools.ratelimit.slots import Slots


def api_routes() -> list[BaseRoute]:
    """Every route Roost itself serves, in matching order (without the 404 catch-all)."""
    modules = (
        health,
        oauth2,
        collections,
        records,
        aggregate,
        transfer,
        auth,
        mail,
        totp,
        passkeys,
        sessions,
        batch,
        graphql,
        settings,
        crons,
        api_keys,
        logs,
        backups,
        metrics,
        files,
        sse,
        document,
        dashboard,
    )
    return [route for module in modules for route in module.routes]


def build_asgi(
    app: App, routes: Sequence[BaseRoute] | None = None, middleware: Sequence[Middleware] = ()
) -> ASGIApp:
    """The ASGI app serving ``routes`` (default: :func:`api_routes`) for a bootstrapped ``app``.

    Start-up and shutdown are not handled here: ``roost.app.Roost`` runs them (from the server's
    lifespan, or on the first request when mounted in another ASGI app).
    """
    served = [*(api_routes() if routes is None else routes), CATCH_ALL]
    router = Starlette(routes=served, exception_handlers=dict(EXCEPTION_HANDLERS))
    router.router = IndexedRouter(routes=served)  # the same routes, tried by their first segments
    router.state.roost = app
    router.state.stream_slots = Slots(app.config.max_streams_per_ip)

    def credentialed(origin: str) -> bool:
        return origin_of(origin) in trusted_origins(app)

    inner: ASGIApp = router.router
    for layer in reversed(middleware):
        inner = layer.cls(inner, *layer.args, **layer.kwargs)
    asgi: ASGIApp = HttpEdge(router, inner, roost=app, credentialed_origins=credentialed)
    if tracing.active:
        from roost.apis.middleware.tracing import TracingMiddleware

        asgi = TracingMiddleware(asgi)
    return asgi


__all__ = ["api_routes", "build_asgi"]
