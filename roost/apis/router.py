"""Builds the ASGI application from a core App."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from roost.apis import (
    auth,
    batch,
    collections,
    files,
    health,
    oauth2,
    realtime,
    records,
    sessions,
    settings,
)
from roost.apis.auth_mail import routes as auth_mail_routes
from roost.apis.errors import error_response, json_error
from roost.apis.middleware import EdgeMiddleware
from roost.apis.openapi import routes as openapi_routes
from roost.apis.passkeys import routes as passkey_routes
from roost.apis.totp import routes as totp_routes
from roost.core.app import App
from roost.core.auth.session_guard import origin_of, trusted_origins
from roost.core.errors import RoostError
from roost.tools.ratelimit.slots import Slots


async def _not_found(request: Request) -> Response:
    # a known path with another method is "resource not found"; an unknown path is "file not found"
    for route in request.app.router.routes:
        if route.path != "/{path:path}" and route.matches(request.scope)[0] == Match.PARTIAL:
            return json_error(404, "The requested resource wasn't found.")
    if request.method not in ("GET", "HEAD"):
        return json_error(404, "The requested resource wasn't found.")
    return json_error(404, "File not found.")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status in (404, 405):
        return json_error(404, "The requested resource wasn't found.")
    return json_error(status, "Something went wrong while processing your request.")


async def _server_error(request: Request, exc: Exception) -> Response:
    return json_error(500, "Something went wrong while processing your request.")


async def _roost_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoostError)
    return error_response(exc)


def build_asgi(app: App, *, manage_lifespan: bool = True) -> EdgeMiddleware:
    """The full ASGI app: routes, error mapping and the edge middleware."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_lifespan:
            await app.bootstrap()
        try:
            yield
        finally:
            if manage_lifespan:
                await app.close()

    routes = [
        *health.routes,
        *oauth2.routes,
        *collections.routes,
        *records.routes,
        *auth.routes,
        *auth_mail_routes,
        *totp_routes,
        *passkey_routes,
        *sessions.routes,
        *batch.routes,
        *settings.routes,
        *files.routes,
        *realtime.routes,
        *openapi_routes,
        Route("/{path:path}", _not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    starlette = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, RoostError: _roost_error, Exception: _server_error},
        lifespan=lifespan,
    )
    starlette.state.roost = app
    starlette.state.stream_slots = Slots(app.config.max_streams_per_ip)
    def credentialed(origin: str) -> bool:
        return origin_of(origin) in trusted_origins(app)

    return EdgeMiddleware(
        starlette, body_limit=app.config.body_limit, credentialed_origins=credentialed, instance=app.config.instance_label
    )
