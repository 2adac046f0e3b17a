"""The outermost layer of the HTTP stack (assembled in :func:`roost.apis.build_asgi`): request
id -> CORS -> security headers -> body limit -> last-resort errors.

Written as plain ASGI (no BaseHTTPMiddleware) so the hot path adds no extra task or copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.apis.errors import error_body, error_response
from roost.apis.middleware.disconnect import DisconnectWatch
from roost.apis.routing import BODY_LIMIT
from roost.config import Config
from roost.core.errors import PayloadTooLarge, RoostError
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


class EdgeMiddleware:
    """Security headers, CORS, request ids, body limit and the last-resort error envelope."""

    def __init__(self, app: ASGIApp, *, config: Config, credentialed_origins: CredentialedOrigins | None = None) -> None:
        self.app = app
        #: read on every request: ``body_limit`` is the server-wide limit, unless the route sets its own
        self.config = config
        self.credentialed_origins = credentialed_origins
        #: the CORS allow-list (``--origins``): None lets every origin read responses
        self.allowed_origins = allowed_origins(config.origins)
        # opt-in (ROOST_INSTANCE_ID): which process answered, to see a load balancer spread requests
        instance = config.instance_label
        self.instance_header = [(b"x-roost-instance", instance.encode())] if instance else []
        #: what every answer gets besides its request id and CORS headers
        self.static_headers = [*SECURITY_HEADERS, (b"vary", b"Origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault(BODY_SEND, send)  # the outermost layer (RoostASGI) sets it first
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        request_id = new_request_id(headers.get(b"x-request-id"))
        scope[REQUEST_ID_KEY] = request_id
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(send, headers, origin)
            return
        extra = [*self.static_headers, (b"x-request-id", request_id), *self.instance_header]
        if origin is not None:
            extra.extend(self._allow_origin(origin))
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        received = 0
        watch = DisconnectWatch(scope, receive, lambda: started)

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
        try:
            await self.app(scope, receive_limited, send_wrapper)
        except asyncio.CancelledError:
            if not watch.owns():
                raise
            log.info("client went away; request stopped (request id %s)", request_id.decode())
        except RoostError as exc:
            if not started:
                response = error_response(exc)
                await response(scope, receive, send_wrapper)
        except Exception:
            # the router's own 500 handler may already have answered; the log line is written here, once
            log.exception("unhandled error (request id %s)", request_id.decode())
            if not started:
                await _send_bytes(send_wrapper, 500, error_body(500, "Something went wrong while processing your request."))
        finally:
            REQUEST_ID.reset(context)
            watch.close()

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


__all__ = ["BODY_SEND", "REQUEST_ID_KEY", "EdgeMiddleware", "PayloadTooLarge"]
