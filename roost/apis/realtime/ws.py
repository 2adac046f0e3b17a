"""``/api/realtime/ws``: the same topics, rules and payloads as SSE over one WebSocket.

JSON text frames, documented in ``docs/realtime.md``. Client to server: ``auth``,
``subscribe``, ``unsubscribe``, ``ping``. Server to client: ``connect``, ``ack``, ``error``,
``event``, ``pong``, ``heartbeat``.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

import orjson
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from roost.apis.realtime.slots import stream_slots
from roost.apis.request import client_ip_of
from roost.core.app import App
from roost.core.auth import api_keys, tokens
from roost.core.auth.superuser_ips import check_superuser_ip
from roost.core.errors import RoostError, Unauthorized
from roost.core.events import RequestInfo
from roost.core.realtime.clients import REVOKED, Client
from roost.core.realtime.hub import RealtimeHub
from roost.core.realtime.topics import MAX_TOPICS, validate_subscribe_body

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN_LATER = 1013
STATUS = {"bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404}


def _reply(client: Client, message: dict[str, Any]) -> None:
    # control replies share the outbox with events so they stay in order; "" marks them raw
    client.outbox.push(("", orjson.dumps(message)), force=True)


def _error(client: Client, ref: Any, exc: RoostError) -> None:
    message: dict[str, Any] = {"type": "error", "status": STATUS.get(exc.kind, 400), "message": exc.message}
    if exc.data:
        message["data"] = exc.data
    if ref is not None:
        message["id"] = ref
    _reply(client, message)


async def _handle(app: App, hub: RealtimeHub, client: Client, message: dict[str, Any], ip: str) -> None:
    kind, ref = message.get("type"), message.get("id")
    topics = message.get("topics")
    if kind == "ping":
        _reply(client, {"type": "pong"} | ({"id": ref} if ref is not None else {}))
        return
    if kind == "auth":
        token = message.get("token")
        if isinstance(token, str) and api_keys.looks_like_key(token):
            await _bind_key(hub, client, app, token, ip)
            _reply(client, {"type": "ack"} | ({"id": ref} if ref is not None else {}))
            return
        found = await tokens.verify(app, token) if isinstance(token, str) and token else None
        if found is None:
            raise Unauthorized("The request requires valid record authorization token.")
        coll, record, _ = found
        check_superuser_ip(app, coll, ip)
        hub.bind_auth(client, record, coll)
    elif kind == "subscribe":
        _, keys = validate_subscribe_body({"clientId": client.id, "subscriptions": topics})
        if len(set(client.subscriptions) | set(keys)) > MAX_TOPICS:
            validate_subscribe_body({"clientId": client.id, "subscriptions": [*client.subscriptions, *keys]})
        await hub.subscribe_request(_info(client, ip), client, keys, partial(_add, hub, client))
    elif kind == "unsubscribe":
        if topics is None:
            hub.set_subscriptions(client, [])
        else:
            _, keys = validate_subscribe_body({"clientId": client.id, "subscriptions": topics})
            hub.remove_subscriptions(client, keys)
    else:
        raise RoostError("Unknown message type.")
    _reply(client, {"type": "ack"} | ({"id": ref} if ref is not None else {}))


def _info(client: Client, ip: str) -> RequestInfo:
    return RequestInfo(auth=client.auth, auth_collection=client.auth_collection, api_key=client.api_key,
                       context="realtime", ip=ip)  # fmt: skip


async def _bind_key(hub: RealtimeHub, client: Client, app: App, key: str, ip: str) -> None:
    info = RequestInfo(context="realtime", ip=ip)
    await api_keys.authenticate(app, key, info)
    hub.bind_auth(client, info.auth, info.auth_collection)
    client.api_key = info.api_key


async def _add(hub: RealtimeHub, client: Client, keys: list[str]) -> None:
    hub.add_subscriptions(client, keys)


async def _read(websocket: WebSocket, app: App, hub: RealtimeHub, client: Client, ip: str) -> None:
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            client.close("disconnected")
            return
        text = frame.get("text")
        if text is None:
            client.close("unsupported")
            return
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            _reply(client, {"type": "error", "status": 400, "message": "Invalid JSON message."})
            continue
        try:
            await _handle(app, hub, client, message, ip)
        except RoostError as exc:
            _error(client, message.get("id"), exc)


async def _write(websocket: WebSocket, hub: RealtimeHub, client: Client) -> None:
    while True:
        try:
            async with asyncio.timeout(hub.heartbeat):
                item = await client.outbox.pop()
        except TimeoutError:
            item = ("", b'{"type":"heartbeat"}')
        if item is None:
            return
        name, data = item
        text = data if not name else b'{"type":"event","topic":' + orjson.dumps(name) + b',"data":' + data + b"}"
        try:
            async with asyncio.timeout(hub.write_timeout):
                await websocket.send_text(text.decode())
        except TimeoutError:
            client.close("slow consumer")
            return


def _close_code(reason: str) -> int:
    codes = {"shutdown": CLOSE_GOING_AWAY, "slow consumer": CLOSE_POLICY, REVOKED: CLOSE_POLICY,
             "unsupported": CLOSE_UNSUPPORTED}  # fmt: skip
    return codes.get(reason, CLOSE_NORMAL)


async def websocket_endpoint(websocket: WebSocket) -> None:
    ip, slots = client_ip_of(websocket), stream_slots(websocket)
    if not slots.acquire(ip):
        await _refuse(websocket)
        return
    try:
        await _serve(websocket, ip)
    finally:
        slots.release(ip)


async def _refuse(websocket: WebSocket) -> None:
    """429 to the handshake where the server can send one, else close with "try again later"."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"data": {}, "message": "Too Many Requests.", "status": 429}
        await websocket.send_denial_response(JSONResponse(body, status_code=429))
    else:
        await websocket.close(code=CLOSE_TRY_AGAIN_LATER)


async def _serve(websocket: WebSocket, ip: str) -> None:
    app: App = websocket.app.state.roost
    hub = app.realtime
    await websocket.accept()
    headers = {k.lower().replace("-", "_"): v for k, v in websocket.headers.items()}
    peer = websocket.client.host if websocket.client else ""
    client = await hub.open_client(RequestInfo(headers=headers, context="realtime", ip=ip), peer)
    await websocket.send_text(orjson.dumps({"type": "connect", "clientId": client.id}).decode())
    reader = asyncio.create_task(_read(websocket, app, hub, client, ip))
    try:
        await _write(websocket, hub, client)
    except (WebSocketDisconnect, OSError, RuntimeError):
        client.close("disconnected")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        hub.disconnect(client)
        if client.close_reason != "disconnected":
            with contextlib.suppress(Exception):
                await websocket.close(code=_close_code(client.close_reason), reason=client.close_reason)
