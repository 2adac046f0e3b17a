"""The HTTP edge (assembled in :func:`roost.apis.build_asgi`): metrics, the request log, the
request id, CORS, security headers, the body limit, the ``superuserIPs`` check, the rate limiter
and the last-resort error envelope, in one ASGI layer in front of the router.

Written as plain ASGI (no BaseHTTPMiddleware) so the hot path adds no extra task or copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.apis.errors import error_body as error_body_of
from roost.apis.errors import error_response, http_error_response
from roost.apis.middleware.disconnect import DisconnectWatch
from roost.apis.middleware.metrics import CLIENT_CLOSED, SERVER_ERROR, metrics_route
from roost.apis.middleware.ratelimit import RateLimiter, too_many_requests
from roost.apis.middleware.request_log import MAX_ERROR_BODY, RequestLogger
from roost.apis.middleware.superuser_ips import check_superuser_access, superuser_checks_apply
from roost.apis.request import APP_KEY
from roost.apis.routing import BODY_LIMIT
from roost.core.app import App
from roost.core.errors import PayloadTooLarge, RoostError
from roost.core.events import RequestInfo
from roost.tools.structured_logs import REQUEST_ID
from roost.tools.structured_logs import request_id as new_request_id

log = logging.getLogger("roost.http")

SECURITY_HEADERS = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-xss-protection", b"1; mode=block"),
]
CORS_METHODS = b"GET,HEAD,PUT,PATCH,POST,DELETE"
#: is this Origin header value trusted for credentialed (cookie) requests?
CredentialedOrigins = Callable[[str], bool]
#: scope key holding the server's own ``send``: a long stream writes its body frames there, past
#: the send wrappers of every layer (they only act on ``http.response.start``); set by
#: ``roost.app.RoostASGI`` in front of the whole stack, else here
BODY_SEND = "roost.body_send"
#: scope key holding the request id (bytes): the client's safe ``X-Request-Id``, or a new one
REQUEST_ID_KEY = "roost.request_id"


class _BodyTooLarge(PayloadTooLarge):
    """Raised from ``receive`` once a body passes the limit; mapped to 413 like any RoostError."""


class HttpEdge:
    """Every HTTP request passes here once, in this order: metrics and the request log around
    it all; the request id, CORS (preflights answered here) and security headers; the body
    limit; the ``superuserIPs`` check; the rate limiter; then the router, with the last-resort
    error envelope for whatever escapes a route. One layer with one ``send`` wrapper: each ASGI
    layer costs a coroutine and a wrapper call per message, and these run on every request.

    ``routes`` is the router (plugins' middleware, when there is any, wrapped around it), which
    serves websockets too; ``app`` is the Starlette application the routes see as
    ``request.app`` (its ``state``), and it serves a lifespan scope.
    """

    def __init__(self, app: Starlette, routes: ASGIApp, *, roost: App, credentialed_origins: CredentialedOrigins | None = None) -> None:
        self.app = app
        self.routes = routes
        self.roost = roost
        self.router: Router = app.router
        config = roost.config
        #: read on every request: ``body_limit`` is the server-wide limit, unless the route sets its own
        self.config = config
        self.credentialed_origins = credentialed_origins
        #: the CORS allow-list (``--origins``): None lets every origin read responses
        self.allowed_origins = allowed_origins(config.origins)
        # opt-in (ROOST_INSTANCE_ID): which process answered, to see a load balancer spread requests
        instance = config.instance_label
        #: what every answer gets besides its request id and CORS headers
        self.static_headers = [*SECURITY_HEADERS, (b"vary", b"Origin"), *([(b"x-roost-instance", instance.encode())] if instance else [])]
        self.metrics = roost.metrics if roost.metrics.enabled else None
        self.request_log = RequestLogger(roost.logs)
        self.limiter = RateLimiter(app)
        #: what Starlette's own exception layer would put in the scope: the routes' handlers
        self.exception_handlers: tuple[dict[Any, Any], dict[int, Any]] = (dict(app.exception_handlers), {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] != "lifespan":  # a websocket: the routes, with the app and handlers in place
                scope["app"] = self.app
                scope["starlette.exception_handlers"] = self.exception_handlers
                await self.routes(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        metrics = self.metrics
        if metrics is not None:
            metrics.request_started()
        table, line = self.request_log.wanted()
        scope.setdefault(BODY_SEND, send)  # the outermost layer (RoostASGI) sets it first
        scope["app"] = self.app  # what Request.app reads, here and in every route
        scope[APP_KEY] = self.roost  # what app_of reads
        scope["starlette.exception_handlers"] = self.exception_handlers  # read by each route
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        request_id = new_request_id(headers.get(b"x-request-id"))
        scope[REQUEST_ID_KEY] = request_id
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        extra = [] if preflight else [*self.static_headers, (b"x-request-id", request_id)]
        if origin is not None and not preflight:
            extra.extend(self._allow_origin(origin))
        status = 0
        error_body: bytes | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
                if metrics is not None:
                    metrics.request_finished(scope["method"], metrics_route(scope, self.router), status, time.perf_counter() - started_at)
            elif status >= 400 and error_body is None and message["type"] == "http.response.body" and (table or line):
                body = message.get("body", b"")
                error_body = body if len(body) <= MAX_ERROR_BODY else b""
            await send(message)

        if preflight:
            try:
                await self._preflight(send_wrapper, headers, origin)
            finally:
                if status:
                    if table or line:  # a preflight carries no credentials
                        self._log(scope, headers, request_id, started_at, status, error_body, None, table, line)
                elif metrics is not None:  # the client went away before the answer left
                    metrics.request_finished(scope["method"], metrics_route(scope, self.router), CLIENT_CLOSED, time.perf_counter() - started_at)
            return
        received = 0
        watch = DisconnectWatch(headers, receive, lambda: status != 0, asyncio.get_running_loop())

        async def receive_limited() -> Message:
            nonlocal received
            message = await watch.receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > scope.get(BODY_LIMIT, self.config.body_limit):
                    raise _BodyTooLarge()
            return message

        # every log line written while this request is served carries its id
        context = REQUEST_ID.set(request_id.decode())
        cancelled = False
        try:
            roost = self.roost
            if superuser_checks_apply(roost, scope, headers):
                await check_superuser_access(roost, scope)
            limits = self.limiter.limits(roost)
            retry_after = None if limits is None else await self.limiter.retry_after(roost, limits, scope)
            if retry_after is None:
                await self.routes(scope, receive_limited, send_wrapper)
            else:
                out, body = too_many_requests(retry_after)
                await send_wrapper({"type": "http.response.start", "status": 429, "headers": out})
                await send_wrapper({"type": "http.response.body", "body": body})
        except asyncio.CancelledError:
            cancelled = True
            if not watch.owns():
                raise
            log.info("client went away; request stopped (request id %s)", request_id.decode())
        except RoostError as exc:
            if not status:
                await error_response(exc)(scope, receive, send_wrapper)
        except HTTPException as exc:  # raised past the routes (a mounted app): the route's envelope
            if not status:
                await http_error_response(exc)(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error (request id %s)", request_id.decode())
            if not status:
                await _send_bytes(send_wrapper, 500, error_body_of(500, "Something went wrong while processing your request."))
        finally:
            REQUEST_ID.reset(context)
            watch.close()
            if status:
                if (table or line) and RequestLogger.logged(scope, status):
                    info = scope.get("roost.info")  # who sent it, when a route authenticated it
                    if info is None and RequestLogger.has_credentials(headers):
                        info = await RequestLogger.auth_of(scope)
                    self._log(scope, headers, request_id, started_at, status, error_body, info, table, line)
            elif metrics is not None:  # no answer: the client went away, or sending the error failed
                code = CLIENT_CLOSED if cancelled else SERVER_ERROR
                metrics.request_finished(scope["method"], metrics_route(scope, self.router), code, time.perf_counter() - started_at)

    def _log(self, scope: Scope, headers: dict[bytes, bytes], request_id: bytes, started_at: float, status: int,
             error_body: bytes | None, info: RequestInfo | None, table: bool, line: bool) -> None:  # fmt: skip
        exec_ms = (time.perf_counter() - started_at) * 1000
        self.request_log.record(scope, headers, request_id, status, exec_ms, error_body, info, table=table, line=line)

    def _allow_origin(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The origins of ``--origins`` (any by default) may read responses; only the origins
        trusted for cookie sessions get them with credentials (an exact origin, never ``*``).
        Any other origin gets no CORS header, so the browser withholds the response."""
        if self.credentialed_origins is not None and self.credentialed_origins(origin.decode("latin-1")):
            return [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true")]
        if self.allowed_origins is None:
            return [(b"access-control-allow-origin", b"*")]
        if origin in self.allowed_origins:
            return [(b"access-control-allow-origin", origin)]
        return []

    async def _preflight(self, send: Send, headers: dict[bytes, bytes], origin: bytes | None) -> None:
        allow = self._allow_origin(origin or b"")
        if not allow:  # an origin off the list learns nothing about the methods or headers allowed
            await send({"type": "http.response.start", "status": 204, "headers": [(b"vary", b"Origin")]})
            await send({"type": "http.response.body", "body": b""})
            return
        out = [
            *allow,
            (b"access-control-allow-methods", CORS_METHODS),
            (b"vary", b"Origin"),
            (b"vary", b"Access-Control-Request-Method"),
            (b"vary", b"Access-Control-Request-Headers"),
        ]
        requested = headers.get(b"access-control-request-headers")
        if requested:
            out.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})


def allowed_origins(origins: str) -> frozenset[bytes] | None:
    """The comma-separated ``--origins`` list as exact Origin header values; None for ``*``."""
    items = {item.strip().rstrip("/") for item in origins.split(",") if item.strip()}
    if not items or "*" in items:
        return None
    return frozenset(item.encode("latin-1") for item in items)


async def _send_bytes(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


__all__ = ["BODY_SEND", "REQUEST_ID_KEY", "HttpEdge", "PayloadTooLarge"]
