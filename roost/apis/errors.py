"""RoostError -> PocketBase's ``{status, message, data}`` envelope. The only place that knows HTTP codes."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException, WebSocketException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from roost.core.errors import RoostError

STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "mfa_required": 401,
    "forbidden": 403,
    "not_found": 404,
    "payload_too_large": 413,
    "too_many_requests": 429,
    "internal": 500,
    "unavailable": 503,
}
#: seconds a client is asked to wait before retrying a 503 (a service Roost needs is unreachable)
RETRY_AFTER = 5


def sentenize(message: str) -> str:
    """Upper-case the first letter and end with a period, as PocketBase's messages do."""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def error_body(status: int, message: str, data: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"data": data or {}, "message": sentenize(message), "status": status})


def error_response(exc: RoostError) -> Response:
    status = STATUS.get(exc.kind, 400)
    if exc.kind == "mfa_required":
        # the MFA challenge is the bare {"mfaId": ...} object the SDKs look for
        return Response(orjson.dumps(exc.data), status_code=status, media_type="application/json")
    headers = {"Retry-After": str(RETRY_AFTER)} if status == 503 else None
    return Response(error_body(status, exc.message, exc.data), status_code=status, headers=headers,
                    media_type="application/json")  # fmt: skip


def json_error(status: int, message: str, data: dict[str, Any] | None = None) -> Response:
    return Response(error_body(status, message, data), status_code=status, media_type="application/json")


async def _not_found(request: Request) -> Response:
    # a known path with another method is "resource not found"; an unknown path is "file not found"
    for route in request.app.router.routes:
        if route is not CATCH_ALL and route.matches(request.scope)[0] == Match.PARTIAL:
            return json_error(404, "The requested resource wasn't found.")
    if request.method not in ("GET", "HEAD"):
        return json_error(404, "The requested resource wasn't found.")
    return json_error(404, "File not found.")


def http_error_response(exc: Exception) -> Response:
    """A Starlette ``HTTPException`` (a mounted app's 404 or 405) in the error envelope."""
    status = getattr(exc, "status_code", 500)
    if status in (404, 405):
        return json_error(404, "The requested resource wasn't found.")
    return json_error(status, "Something went wrong while processing your request.")


async def _http_error(request: Request, exc: Exception) -> Response:
    return http_error_response(exc)


async def _websocket_error(websocket: WebSocket, exc: Exception) -> None:
    assert isinstance(exc, WebSocketException)
    await websocket.close(code=exc.code, reason=exc.reason)


async def _roost_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoostError)
    return error_response(exc)


#: the router's last route: PocketBase's 404 answers for every path no other route serves
CATCH_ALL: BaseRoute = Route("/{path:path}", _not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
#: the routes' exception handlers: every error leaves in the ``{status, message, data}`` envelope
#: (any other exception is the HTTP edge's 500, :class:`roost.apis.middleware.stack.HttpEdge`)
EXCEPTION_HANDLERS: dict[Any, ExceptionHandler] = {
    HTTPException: _http_error,
    WebSocketException: _websocket_error,
    RoostError: _roost_error,
}
