"""The HTTP edge in one fixed order: request id -> CORS -> security headers -> body limit -> errors
-> superuser IPs (``roost.apis.superuser_ips``) -> rate limits (``roost.apis.ratelimit``, just
before the router).

Written as plain ASGI (no BaseHTTPMiddleware) so the hot path adds no extra task or copy.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.apis.disconnect import DisconnectWatch
from roost.apis.errors import error_body, error_response
from roost.apis.ratelimit import RateLimitMiddleware
from roost.apis.superuser_ips import SuperuserIPsMiddleware
from roost.core.errors import PayloadTooLarge, RoostError

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
#: the send wrappers of every layer below (they only act on ``http.response.start``)
BODY_SEND = "roost.body_send"


class _BodyTooLarge(PayloadTooLarge):
    """Raised from ``receive`` once a body passes the limit; mapped to 413 like any RoostError."""


class EdgeMiddleware:
    """Security headers, CORS, request ids, body limit and the last-resort error envelope."""

    def __init__(
        self, app: ASGIApp, *, body_limit: int, credentialed_origins: CredentialedOrigins | None = None, instance: str = ""
    ) -> None:
        self.app = SuperuserIPsMiddleware(RateLimitMiddleware(app), app)
        self.body_limit = body_limit
        self.credentialed_origins = credentialed_origins
        # opt-in (ROOST_INSTANCE_ID): which process answered, to see a load balancer spread requests
        self.instance_header = [(b"x-roost-instance", instance.encode())] if instance else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[BODY_SEND] = send
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        request_id = headers.get(b"x-request-id") or secrets.token_hex(8).encode()
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(send, headers, origin)
            return
        extra = [*SECURITY_HEADERS, (b"vary", b"Origin"), (b"x-request-id", request_id), *self.instance_header]
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
                if received > self.body_limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, receive_limited, send_wrapper)
        except asyncio.CancelledError:
            if not watch.owns():
                raise
            log.info("client went away; request stopped (request id %s)", request_id.decode(errors="replace"))
        except RoostError as exc:
            if not started:
                response = error_response(exc)
                await response(scope, receive, send_wrapper)
        except Exception:
            # the router's own 500 handler may already have answered; the log line is written here, once
            log.exception("unhandled error (request id %s)", request_id.decode(errors="replace"))
            if not started:
                await _send_bytes(send_wrapper, 500, error_body(500, "Something went wrong while processing your request."))
        finally:
            watch.close()

    def _allow_origin(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """Any origin may read responses, but only the origins trusted for cookie sessions get
        them with credentials (an exact origin, never ``*``)."""
        if self.credentialed_origins is not None and self.credentialed_origins(origin.decode("latin-1")):
            return [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true")]
        return [(b"access-control-allow-origin", b"*")]

    async def _preflight(self, send: Send, headers: dict[bytes, bytes], origin: bytes | None) -> None:
        out = [
            *self._allow_origin(origin or b""),
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


async def _send_bytes(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


__all__ = ["BODY_SEND", "EdgeMiddleware", "PayloadTooLarge"]
