"""``/api/realtime``: PocketBase's SSE stream and subscription POST. The WebSocket lives in
``realtime_ws.py``; both are transports over ``roost.core.realtime``."""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from roost.apis.picker import pick_fields
from roost.apis.realtime_ws import websocket_endpoint
from roost.apis.request import app_of, read_body, request_info
from roost.core import realtime_routing
from roost.core.errors import BadRequest
from roost.core.realtime import Client, RealtimeHub
from roost.core.realtime_topics import validate_subscribe_body

SSE_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-type", b"text/event-stream"),
    (b"x-accel-buffering", b"no"),
]
#: events written to the socket in one chunk at most
COALESCE = 64


def hub_for(request: Request) -> RealtimeHub:
    hub = app_of(request).realtime
    hub.field_picker = pick_fields
    return hub


def sse_frame(prefix: bytes, name: str, data: bytes) -> bytes:
    return prefix + name.encode() + b"\ndata:" + data + b"\n\n"


async def _watch_disconnect(receive: Receive, client: Client) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.close("disconnected")
            return


async def sse_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """GET /api/realtime: one client, ``PB_CONNECT`` first, ``id:<clientId>`` on every frame."""
    request = Request(scope, receive)
    hub = hub_for(request)
    client = hub.connect(request.client.host if request.client else "")
    watcher = asyncio.create_task(_watch_disconnect(receive, client))
    prefix = b"id:" + client.id.encode() + b"\nevent:"
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        hello = b'{"clientId":"' + client.id.encode() + b'"}'
        await send({"type": "http.response.body", "body": sse_frame(prefix, "PB_CONNECT", hello), "more_body": True})
        if await _pump(hub, client, prefix, send):
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(hub.write_timeout):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()
        hub.disconnect(client)


async def _pump(hub: RealtimeHub, client: Client, prefix: bytes, send: Send) -> bool:
    """Write queued events until the stream should end; False when the client is gone or stalled."""
    deadline = client.created + hub.max_lifetime
    while True:
        wait = min(hub.idle_timeout, deadline - time.monotonic())
        if wait <= 0:
            return True
        try:
            async with asyncio.timeout(wait):
                first = await client.outbox.pop()
        except TimeoutError:
            return True  # idle or lifetime limit: end cleanly, the SDK reconnects
        items = [first, *client.outbox.take_ready(COALESCE)]
        chunk = b"".join(sse_frame(prefix, item[0], item[1]) for item in items if item is not None)
        if chunk:
            try:
                async with asyncio.timeout(hub.write_timeout):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (TimeoutError, OSError):
                client.close("slow consumer")
                return False
        if None in items:
            return client.close_reason not in ("disconnected", "slow consumer")


class _AsgiEndpoint:
    """Wraps ``sse_stream`` so the router hands it the raw ASGI scope (no buffered Response)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await sse_stream(scope, receive, send)


async def set_subscriptions(request: Request) -> Response:
    """POST /api/realtime: replace every subscription of a client and bind the caller's auth."""
    try:
        body, _ = await read_body(request)
    except BadRequest:
        body = {}
    client_id, topics = validate_subscribe_body(body)
    info = await request_info(request)
    await realtime_routing.subscribe(hub_for(request), client_id, topics, info.auth, info.auth_collection)
    return Response(status_code=204)


routes = [
    Route("/api/realtime", _AsgiEndpoint(), methods=["GET"]),
    Route("/api/realtime", set_subscriptions, methods=["POST"]),
    WebSocketRoute("/api/realtime/ws", websocket_endpoint),
]
