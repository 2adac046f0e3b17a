"""Roost's HTTP layer: every built-in route, and the one place the ASGI stack is assembled.

The stack, outermost first (each layer is plain ASGI, so the hot path adds no task or copy):

- :class:`~roost.apis.middleware.tracing.TracingMiddleware`, only while tracing is on
  (:mod:`roost.tools.tracing`): the server span of each request;
0. :class:`~roost.apis.middleware.request_log.RequestLogMiddleware`: one entry per finished
   request for ``app.logs`` (the ``logs`` settings);
1. :class:`~roost.apis.middleware.stack.EdgeMiddleware`: request id, CORS, security headers,
   the body limit (a route may declare its own) and the last-resort error envelope;
2. :class:`~roost.apis.middleware.superuser_ips.SuperuserIPsMiddleware`: the ``superuserIPs`` setting;
3. :class:`~roost.apis.middleware.ratelimit.RateLimitMiddleware`: the ``rateLimits`` setting;
4. the middleware plugins add in ``on_serve``, in the order they were added;
5. the router: built-in routes, then plugin routes, then the 404 catch-all.

Outside them all, while metrics are on,
:class:`~roost.apis.middleware.metrics.MetricsMiddleware` counts and times each request per
route template.
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
from roost.apis.middleware.metrics import MetricsMiddleware
from roost.apis.middleware.ratelimit import RateLimitMiddleware
from roost.apis.middleware.request_log import RequestLogMiddleware
from roost.apis.middleware.stack import EdgeMiddleware
from roost.apis.middleware.superuser_ips import SuperuserIPsMiddleware
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

    stack = [
        *_tracing_layer(),
        Middleware(RequestLogMiddleware, logs=app.logs),
        Middleware(EdgeMiddleware, config=app.config, credentialed_origins=credentialed),
        Middleware(SuperuserIPsMiddleware, router=router),
        Middleware(RateLimitMiddleware, router=router),
        *middleware,
    ]
    if app.metrics.enabled:
        stack.insert(0, Middleware(MetricsMiddleware, metrics=app.metrics, router=router))
    asgi: ASGIApp = router
    for layer in reversed(stack):
        asgi = layer.cls(asgi, *layer.args, **layer.kwargs)
    return asgi


def _tracing_layer() -> list[Middleware]:
    """The server-span middleware while tracing is on; nothing at all while it is off."""
    if not tracing.active:
        return []
    from roost.apis.middleware.tracing import TracingMiddleware

    return [Middleware(TracingMiddleware)]


__all__ = ["api_routes", "build_asgi"]
