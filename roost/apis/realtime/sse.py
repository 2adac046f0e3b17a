"""``/api/realtime``: PocketBase's SSE stream and subscription POST. The WebSocket lives in
``realtime_ws.py``; both are transports over ``roost.core.realtime.hub``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from roost.apis.middleware.stack import BODY_SEND
from roost.apis.openapi.operation import Op, raw
from roost.apis.openapi.schema import STR, arr, obj
from roost.apis.realtime.slots import stream_slots
from roost.apis.realtime.ws import websocket_endpoint
from roost.apis.request import app_of, client_ip_of, read_body, request_info
from roost.apis.routing import route, websocket_route
from roost.core.errors import BadRequest, TooManyRequests
from roost.core.realtime import routing as realtime_routing
from roost.core.realtime.clients import CLOSE, Client
from roost.core.realtime.hub import RealtimeHub
from roost.core.realtime.topics import validate_subscribe_body

SSE_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-type", b"text/event-stream"),
    (b"x-accel-buffering", b"no"),
]
#: events written to the socket in one chunk at most
COALESCE = 64


def hub_for(request: Request) -> RealtimeHub:
    hub = app_of(request).realtime
    return hub


def sse_frame(prefix: bytes, name: str, data: bytes) -> bytes:
    return prefix + name.encode() + b"\ndata:" + data + b"\n\n"


async def _watch_disconnect(receive: Receive, client: Client) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.close("disconnected")
            return


class _Watchdog:
    """The idle, lifetime and write limits of one stream on a single timer.

    A timeout around every frame cost a timer insert and cancel per frame (about a tenth of the
    fan-out CPU); this timer wakes at most once per ``write_timeout`` and finds a stalled write,
    which can only sit in ``send`` while the server's write buffer is full, exactly on time.
    """

    __slots__ = ("client", "handle", "hub", "last_write", "stalled", "task", "writing_since")

    def __init__(self, hub: RealtimeHub, client: Client) -> None:
        self.hub, self.client = hub, client
        self.task = asyncio.current_task()
        self.last_write = time.monotonic()
        self.writing_since = 0.0
        self.stalled = False
        self.handle: asyncio.TimerHandle | None = None
        self._arm(self.last_write)

    def _arm(self, now: float) -> None:
        hub = self.hub
        due = min(self.last_write + hub.idle_timeout, self.client.created + hub.max_lifetime)
        due = min(due, (self.writing_since or now) + hub.write_timeout)
        self.handle = asyncio.get_running_loop().call_later(max(due - now, 0.0), self._check)

    def _check(self) -> None:
        now, hub, client = time.monotonic(), self.hub, self.client
        if client.closed:
            return
        if self.writing_since and now - self.writing_since >= hub.write_timeout:
            self.stalled = True
            client.close("slow consumer")
            if self.task is not None:
                self.task.cancel()
        elif now - self.last_write >= hub.idle_timeout or now >= client.created + hub.max_lifetime:
            client.close("timeout")  # the stream ends cleanly and the SDK reconnects
        else:
            self._arm(now)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


async def sse_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """GET /api/realtime: one client, ``PB_CONNECT`` first, ``id:<clientId>`` on every frame."""
    request = Request(scope, receive)
    hub = hub_for(request)
    client = await hub.open_client(await request_info(request), request.client.host if request.client else "")
    watcher = asyncio.create_task(_watch_disconnect(receive, client))
    watchdog = _Watchdog(hub, client)
    prefix = b"id:" + client.id.encode() + b"\nevent:"
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        hello = b'{"clientId":"' + client.id.encode() + b'"}'
        # frames skip the middleware's send wrappers, which act on the response start alone
        body_send: Send = scope.get(BODY_SEND, send)
        client.direct = _direct_writer(body_send, prefix, watchdog)
        if await _pump(client, prefix, body_send, watchdog, sse_frame(prefix, "PB_CONNECT", hello)):
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(hub.write_timeout):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        client.direct = None
        watchdog.stop()
        watcher.cancel()
        hub.disconnect(client)


def _direct_writer(send: Send, prefix: bytes, watchdog: _Watchdog) -> Callable[[str, bytes], bool] | None:
    """Write a frame from the fan-out loop itself, without waking the stream's task.

    uvicorn's ``send`` only waits when the socket's write buffer is over its high-water mark
    (``flow.write_paused``); otherwise it writes and returns without suspending. So while the
    buffer has room the frame is written here by stepping the coroutine once, and when it has
    none (a slow reader) the frame goes to the outbox, whose bound and the write timeout drop
    that client without delaying the others. Other servers always use the outbox.
    """
    cycle: Any = getattr(send, "__self__", None)
    flow: Any = getattr(cycle, "flow", None)
    if cycle is None or not isinstance(getattr(flow, "write_paused", None), bool):
        return None

    def write(name: str, data: bytes) -> bool:
        if flow.write_paused or watchdog.writing_since or cycle.disconnected:
            return False
        step = send({"type": "http.response.body", "body": sse_frame(prefix, name, data), "more_body": True})
        try:
            step.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            watchdog.last_write = time.monotonic()
            return True
        except Exception:  # the stream's own task meets the same error and ends the stream
            return False
        step.close()  # type: ignore[attr-defined]  # it waited after all: nothing was written
        return False

    return write


async def _pump(client: Client, prefix: bytes, send: Send, watchdog: _Watchdog, chunk: bytes) -> bool:
    """Write ``chunk``, then queued events until the stream should end; False when the client is gone or stalled."""
    outbox = client.outbox
    while True:
        if chunk:
            watchdog.writing_since = time.monotonic()
            try:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except asyncio.CancelledError:
                if not watchdog.stalled:
                    raise
                if watchdog.task is not None:
                    watchdog.task.uncancel()
                return False
            except OSError:
                client.close("slow consumer")
                return False
            watchdog.last_write, watchdog.writing_since = watchdog.writing_since, 0.0
        item = await outbox.pop()
        items = [item, *outbox.take_ready(COALESCE)] if outbox else [item]
        if CLOSE in items:  # close() empties the outbox first, so nothing is lost here
            return client.close_reason not in ("disconnected", "slow consumer")
        chunk = b"".join([sse_frame(prefix, item[0], item[1]) for item in items])  # type: ignore[index]


class _AsgiEndpoint:
    """Wraps ``sse_stream`` so the router hands it the raw ASGI scope (no buffered Response),
    within the client IP's stream slots."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        ip, slots = client_ip_of(request), stream_slots(request)
        if not slots.acquire(ip):
            raise TooManyRequests()
        try:
            await sse_stream(scope, receive, send)
        finally:
            slots.release(ip)


async def set_subscriptions(request: Request) -> Response:
    """POST /api/realtime: replace every subscription of a client and bind the caller's auth."""
    try:
        body, _ = await read_body(request)
    except BadRequest:
        body = {}
    client_id, topics = validate_subscribe_body(body)
    info = await request_info(request)
    hub = hub_for(request)

    async def apply(keys: list[str]) -> None:
        await realtime_routing.subscribe(hub, client_id, keys, info.auth, info.auth_collection, info.session_id, info.api_key)

    await hub.subscribe_request(info, hub.clients.get(client_id), topics, apply)
    return Response(status_code=204)


routes = [
    route("/api/realtime", _AsgiEndpoint(), ["GET"], openapi=Op(
        "Realtime event stream (SSE; first event PB_CONNECT)", "realtime", errors=(),
        responses=raw(200, "Server-sent events.", "text/event-stream", STR))),
    route("/api/realtime", set_subscriptions, ["POST"], openapi=Op(
        "Set a realtime client's subscriptions", "realtime", errors=(400, 403, 404),
        body=obj(("clientId",), clientId=STR, subscriptions=arr(STR)))),
    websocket_route("/api/realtime/ws", websocket_endpoint, openapi=Op(
        "Realtime over a WebSocket (upgrade)", "realtime", errors=(), responses=raw(101, "Switching protocols to a WebSocket."))),
]  # fmt: skip
