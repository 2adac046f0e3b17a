"""``/api/graphql`` over WebSocket with the ``graphql-transport-ws`` protocol (the ``graphql-ws``
npm client's): queries, mutations and subscriptions.

A connection is one realtime client of the core hub. Each subscription is a realtime
subscription key (the collection or ``collection/id`` topic, with an ``expand`` option worked out
from the selection), so the events, the per-subscriber rule checks, the presentation and the
cross-instance delivery are the realtime core's, exactly as for SSE and ``/api/realtime/ws``.
The caller authenticates in ``connection_init``'s payload (``{"Authorization": "<token>"}``).

Close codes are the protocol's: 4400 invalid message, 4401 subscribe before the
acknowledgement, 4403 a rejected token, 4406 a client without the subprotocol, 4408 no
``connection_init`` in time, 4409 a subscription id in use, 4429 a second ``connection_init``.
"""

from __future__ import annotations

import asyncio
import contextlib
from inspect import isawaitable
from typing import Any

import orjson
from graphql import ExecutionResult, OperationType, execute, get_operation_ast, subscribe
from starlette.websockets import WebSocket, WebSocketDisconnect

from roost.apis.graphql.document import prepare
from roost.apis.graphql.http import operation_params, result_body, schema_of
from roost.apis.graphql.resolvers import Context
from roost.apis.realtime.slots import stream_slots
from roost.apis.request import app_of, client_ip_of
from roost.core.auth import api_keys, tokens
from roost.core.auth.superuser_ips import check_superuser_ip
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.realtime.clients import Client
from roost.core.realtime.topics import MAX_TOPICS

PROTOCOL = "graphql-transport-ws"
#: seconds a client has to send ``connection_init``
INIT_TIMEOUT = 10.0


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Connection:
    """One ``graphql-transport-ws`` connection: its realtime client and running operations."""

    def __init__(self, websocket: WebSocket, ip: str) -> None:
        self.websocket, self.ip = websocket, ip
        self.app = app_of(websocket)
        self.hub = self.app.realtime
        self.info = RequestInfo(context="realtime", ip=ip)
        self.client: Client | None = None
        self.token = ""
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.queues: dict[str, set[asyncio.Queue[bytes]]] = {}
        self._send_lock = asyncio.Lock()

    # ----- the realtime side (roost.apis.graphql.resolvers.Stream) ---------------------------
    async def listen(self, key: str) -> asyncio.Queue[bytes]:
        client = self.client
        assert client is not None
        if key not in self.queues:
            if len(client.subscriptions) >= MAX_TOPICS:
                raise BadRequest(f"A connection may hold at most {MAX_TOPICS} subscriptions.")

            async def apply(keys: list[str]) -> None:
                self.hub.add_subscriptions(client, keys)

            await self.hub.subscribe_request(self._info(), client, [key], apply)
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.hub.queue_size)
        self.queues.setdefault(key, set()).add(queue)
        return queue

    def unlisten(self, key: str, queue: asyncio.Queue[bytes]) -> None:
        listeners = self.queues.get(key)
        if listeners is None:
            return
        listeners.discard(queue)
        if not listeners:
            del self.queues[key]
            if self.client is not None:
                self.hub.remove_subscriptions(self.client, [key])

    def _info(self) -> RequestInfo:
        client = self.client
        assert client is not None
        return RequestInfo(auth=client.auth, auth_collection=client.auth_collection, api_key=client.api_key,
                           context="realtime", ip=self.ip)  # fmt: skip

    async def _bind_key(self, key: str) -> None:
        assert self.client is not None and self.info is not None
        try:
            await api_keys.authenticate(self.app, key, self.info)
        except RoostError:
            raise _Close(4403, "Forbidden") from None
        self.hub.bind_auth(self.client, self.info.auth, self.info.auth_collection)
        self.client.api_key = self.info.api_key
        self.token = key

    async def route_events(self) -> None:
        """Hand each event of the realtime client to the subscriptions of its key."""
        assert self.client is not None
        while True:
            item = await self.client.outbox.pop()
            if item is None:
                raise _Close(1001 if self.client.close_reason == "shutdown" else 1008, self.client.close_reason)
            name, data = item
            for queue in list(self.queues.get(name, ())):
                try:
                    queue.put_nowait(data)
                except asyncio.QueueFull:
                    raise _Close(1008, "slow consumer") from None

    # ----- the protocol ----------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(orjson.dumps(message).decode())

    async def receive(self) -> dict[str, Any] | None:
        frame = await self.websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return None
        try:
            message = orjson.loads(frame.get("text") or b"")
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(4400, "Invalid message received")
        return message

    async def init(self) -> bool:
        """Wait for ``connection_init``, authenticate its payload, acknowledge."""
        try:
            async with asyncio.timeout(INIT_TIMEOUT):
                message = await self.receive()
        except TimeoutError:
            raise _Close(4408, "Connection initialisation timeout") from None
        if message is None:
            return False
        if message["type"] != "connection_init":
            raise _Close(4401, "Unauthorized") if message["type"] == "subscribe" else _Close(4400, "Invalid message received")
        payload = message.get("payload") or {}
        token = (payload.get("Authorization") or payload.get("authorization") or payload.get("token")) if isinstance(payload, dict) else None
        headers = {k.lower().replace("-", "_"): v for k, v in self.websocket.headers.items()}
        self.info = RequestInfo(headers=headers, context="realtime", ip=self.ip)
        self.client = await self.hub.open_client(self.info, self.ip)
        if isinstance(token, str) and api_keys.looks_like_key(token.removeprefix("Bearer ").strip()):
            await self._bind_key(token.removeprefix("Bearer ").strip())
        elif isinstance(token, str) and token:
            found = await tokens.verify(self.app, token.removeprefix("Bearer ").strip())
            if found is None:
                raise _Close(4403, "Forbidden")
            coll, record, _ = found
            try:
                check_superuser_ip(self.app, coll, self.ip)
            except RoostError:
                raise _Close(4403, "Forbidden") from None
            self.hub.bind_auth(self.client, record, coll)
            self.token = token.removeprefix("Bearer ").strip()
            self.info.auth, self.info.auth_collection = record, coll
        await self.send({"type": "connection_ack"})
        return True

    async def serve(self) -> None:
        while True:
            message = await self.receive()
            if message is None:
                return
            kind = message["type"]
            if kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "pong":
                continue
            elif kind == "connection_init":
                raise _Close(4429, "Too many initialisation requests")
            elif kind == "subscribe":
                await self.start(message)
            elif kind == "complete":
                task = self.operations.pop(str(message.get("id")), None)
                if task is not None:
                    task.cancel()
            else:
                raise _Close(4400, "Invalid message received")

    async def start(self, message: dict[str, Any]) -> None:
        """Prepare one operation; a subscription is registered before the next message is read."""
        op_id = message.get("id")
        if not isinstance(op_id, str) or not op_id:
            raise _Close(4400, "Invalid message received")
        if op_id in self.operations:
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        try:
            params = operation_params(message.get("payload"))
        except ValueError:
            raise _Close(4400, "Invalid message received") from None
        built = schema_of(self.websocket)
        document = prepare(self.app, built.schema, params["query"], superuser=self.info.is_superuser, cache=built.documents)
        if isinstance(document, list):
            await self.send({"id": op_id, "type": "error", "payload": document})
            return
        context = Context(self.app, self._info(), _base_url(self.websocket), built.links, stream=self, token=self.token)
        run = {"context_value": context, "variable_values": params["variables"], "operation_name": params["operationName"]}
        operation = get_operation_ast(document, params["operationName"])
        if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
            stream = subscribe(built.schema, document, **run)
            if isawaitable(stream):
                stream = await stream
            if isinstance(stream, ExecutionResult):
                await self.send({"id": op_id, "type": "error", "payload": result_body(stream).get("errors", [])})
                return
            self.operations[op_id] = asyncio.create_task(self._pump(op_id, stream))
        else:
            self.operations[op_id] = asyncio.create_task(self._once(op_id, execute(built.schema, document, **run)))

    async def _once(self, op_id: str, result: Any) -> None:
        try:
            if isawaitable(result):
                result = await result
            await self.send({"id": op_id, "type": "next", "payload": result_body(result)})
            await self.send({"id": op_id, "type": "complete"})
        finally:
            self.operations.pop(op_id, None)

    async def _pump(self, op_id: str, stream: Any) -> None:
        try:
            async for result in stream:
                await self.send({"id": op_id, "type": "next", "payload": result_body(result)})
            await self.send({"id": op_id, "type": "complete"})
        finally:
            self.operations.pop(op_id, None)
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def close(self) -> None:
        for task in list(self.operations.values()):
            task.cancel()
        for task in list(self.operations.values()):
            with contextlib.suppress(BaseException):
                await task
        if self.client is not None:
            self.hub.disconnect(self.client)


def _base_url(websocket: WebSocket) -> str:
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return f"{scheme}://{websocket.url.netloc}"


async def graphql_ws_endpoint(websocket: WebSocket) -> None:
    ip, slots = client_ip_of(websocket), stream_slots(websocket)
    if not slots.acquire(ip):
        await websocket.close(code=1013)
        return
    try:
        await _serve(websocket, ip)
    finally:
        slots.release(ip)


async def _serve(websocket: WebSocket, ip: str) -> None:
    if PROTOCOL not in websocket.scope.get("subprotocols", []):
        await websocket.accept()
        await websocket.close(code=4406, reason="Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=PROTOCOL)
    connection = Connection(websocket, ip)
    router: asyncio.Task[None] | None = None
    try:
        if not await connection.init():
            return
        router = asyncio.create_task(connection.route_events())
        reader = asyncio.create_task(connection.serve())
        done, _ = await asyncio.wait({router, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in (router, reader):
            if task not in done:
                task.cancel()
        for task in done:
            task.result()
    except _Close as exc:
        with contextlib.suppress(Exception):
            await websocket.close(code=exc.code, reason=exc.reason)
    except (WebSocketDisconnect, OSError):
        pass
    finally:
        if router is not None and not router.done():
            router.cancel()
        await connection.close()
