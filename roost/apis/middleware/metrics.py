"""Request metrics (the outermost layer, see :func:`roost.apis.build_asgi`).

Each request is counted under its route *template* (``/api/collections/{collection}/records``),
never its URL, so the number of series stays bounded whatever clients send. The count, the
latency and the in-flight gauge are taken when the response head leaves: a realtime stream is
counted when it opens, not hours later when it ends. A request answered before routing (a 429
from the rate limiter, a preflight, a 413) is matched against the routes to find its template.
"""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.apis.errors import CATCH_ALL
from roost.apis.route_group import MATCHED_ROUTE
from roost.apis.route_index import first_match, routes_to_try
from roost.tools.metrics import NO_ROUTE, Metrics

#: what a request that never got a response head counts as: the client went away / a crash
CLIENT_CLOSED = 499
SERVER_ERROR = 500


class MetricsMiddleware:
    """Counts and times every HTTP request into ``metrics``."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, router: Starlette) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        metrics.request_started()
        started = time.perf_counter()
        counted = False

        async def send_counted(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start" and not counted:
                counted = True
                metrics.request_finished(scope["method"], self._template(scope), message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except asyncio.CancelledError:
            if not counted:
                counted = True
                metrics.request_finished(scope["method"], self._template(scope), CLIENT_CLOSED, time.perf_counter() - started)
            raise
        finally:
            if not counted:
                metrics.request_finished(scope["method"], self._template(scope), SERVER_ERROR, time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        route = scope.get(MATCHED_ROUTE) or scope.get("route") or self._match(scope)
        if route is None or route is CATCH_ALL:
            return NO_ROUTE
        path = str(getattr(route, "path", "") or NO_ROUTE)
        return path + "/{path}" if isinstance(route, Mount) else path

    def _match(self, scope: Scope) -> BaseRoute | None:
        found = first_match(routes_to_try(self.router.router, scope), scope)
        return None if found is None else found[1].get(MATCHED_ROUTE, found[0])


__all__ = ["MetricsMiddleware"]
