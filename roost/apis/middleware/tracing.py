"""The server span of each HTTP request (the outermost layer while tracing is on).

:func:`roost.apis.build_asgi` adds this middleware only when :mod:`roost.tools.tracing` is
active, so an app without tracing has no layer here at all. The span continues the caller's
trace (W3C ``traceparent``), is current while the request runs (so database, hook and outbound
spans become its children), and is named after the route template that served the request,
``GET /api/collections/{collectionIdOrName}/records/{id}``, once the router has matched it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.apis.errors import CATCH_ALL
from roost.apis.route_group import MATCHED_ROUTE
from roost.tools.tracing.spans import detach, end_server_span, start_server_span

_NOT_FOUND = getattr(CATCH_ALL, "path", "")


class TracingMiddleware:
    """Wraps every HTTP request in a server span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span, token = start_server_span(scope)
        if not span.is_recording():  # not sampled: its context still goes to hooks and outbound calls
            try:
                await self.app(scope, receive, send)
            finally:
                detach(token)
            return
        status = 0
        error: BaseException | None = None

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            error = exc
            raise
        finally:
            end_server_span(span, token, scope["method"], route_template(scope), status, error)


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request ("" when none did)."""
    route = scope.get(MATCHED_ROUTE) or scope.get("route")
    path = getattr(route, "path", "")
    if path == _NOT_FOUND:  # the 404 catch-all (or a public dir's fallback) names no route
        return ""
    root = scope.get("root_path", "")
    # a mounted app's route is relative to its mount point
    return path if not root or path.startswith(root) else root + path


__all__ = ["TracingMiddleware", "route_template"]
