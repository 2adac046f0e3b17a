"""/api/graphql over WebSocket (graphql-transport-ws) against a live server: subscriptions deliver
record events under each subscriber's rules, with relations expanded; the protocol's close codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from roost.testing import TestApp
from tests.conftest import skip_or_fail
from tests.e2e.servers import LiveServer, RoostNotReady, ServiceUnavailable, start_server
from tests.graphql_world import World, seed

pytestmark = pytest.mark.e2e
PROTOCOL = "graphql-transport-ws"
POSTS = "subscription { posts { action record { title public author { name } } } }"


@pytest.fixture(params=["roost", "roost-pg"])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    try:
        started = start_server(request.param)
    except (RoostNotReady, ServiceUnavailable) as exc:
        skip_or_fail(str(exc))
    with started:
        yield started


@pytest.fixture
async def live(server: LiveServer) -> AsyncIterator[tuple[str, TestApp, World]]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        api = TestApp(http, None, su_token=server.superuser_token())  # type: ignore[arg-type]
        off = {"roostAuth": {"loginThrottle": {"enabled": False}}}
        assert (await api.su("PATCH", "/api/settings", json=off)).status_code == 200
        yield server.base_url.replace("http", "ws", 1) + "/api/graphql", api, await seed(api)


class Socket:
    """A graphql-transport-ws client, one message at a time."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.ws.recv())
        return message

    async def init(self, token: str | None) -> None:
        await self.send({"type": "connection_init", "payload": {"Authorization": token} if token else {}})
        assert await self.receive() == {"type": "connection_ack"}

    async def subscribe(self, op_id: str, query: str) -> None:
        """Subscribe; the ping after it returns once the server has registered the subscription."""
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query}})
        await self.send({"type": "ping"})
        assert await self.receive() == {"type": "pong"}


async def connect(url: str, token: str | None) -> Socket:
    socket = Socket(await websockets.connect(url, subprotocols=[PROTOCOL], open_timeout=10))
    await socket.init(token)
    return socket


async def test_subscribers_get_the_events_their_rules_allow(live: tuple[str, TestApp, World]) -> None:
    url, api, world = live
    sockets = {caller: await connect(url, world.tokens[caller]) for caller in ("guest", "owner", "other")}
    try:
        for socket in sockets.values():
            await socket.subscribe("s", POSTS)
        owner = world.tokens["owner"]
        private = {"title": "private", "public": False, "author": world.ids["owner"]}
        public = {"title": "public", "public": True, "author": world.ids["owner"]}
        for body in (private, public):
            res = await api.call("POST", "/api/collections/posts/records", token=owner, json=body)
            assert res.status_code == 200, res.text
        event = {"action": "create", "record": {"title": "private", "public": False, "author": {"name": "Owner"}}}
        seen = {caller: await socket.receive() for caller, socket in sockets.items()}
        assert seen["owner"] == {"id": "s", "type": "next", "payload": {"data": {"posts": event}}}
        # the private post never reached the others: their first event is the public one
        public_event = {"action": "create", "record": {"title": "public", "public": True, "author": {"name": "Owner"}}}
        assert seen["guest"]["payload"]["data"]["posts"] == public_event == seen["other"]["payload"]["data"]["posts"]
        assert (await sockets["owner"].receive())["payload"]["data"]["posts"] == public_event
    finally:
        for socket in sockets.values():
            await socket.ws.close()


async def test_one_record_topic_and_complete(live: tuple[str, TestApp, World]) -> None:
    url, api, world = live
    socket = await connect(url, world.tokens["owner"])
    try:
        await socket.subscribe("one", f'subscription {{ posts(id: "{world.ids["p1"]}") {{ action record {{ n }} }} }}')
        await socket.subscribe("all", "subscription { posts { action record { n } } }")
        owner = world.tokens["owner"]
        assert (await api.call("PATCH", f"/api/collections/posts/records/{world.ids['p2']}", token=owner, json={"n": 20})).status_code == 200
        assert (await api.call("PATCH", f"/api/collections/posts/records/{world.ids['p1']}", token=owner, json={"n": 10})).status_code == 200
        update = {"action": "update", "record": {"n": 20}}
        assert await socket.receive() == {"id": "all", "type": "next", "payload": {"data": {"posts": update}}}
        got = [await socket.receive(), await socket.receive()]
        assert sorted((m["id"], m["payload"]["data"]["posts"]["record"]["n"]) for m in got) == [("all", 10), ("one", 10)]
        await socket.send({"id": "one", "type": "complete"})
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
        assert (await api.call("DELETE", f"/api/collections/posts/records/{world.ids['p1']}", token=owner)).status_code == 204
        assert await socket.receive() == {"id": "all", "type": "next", "payload": {"data": {"posts": {"action": "delete", "record": {"n": 10}}}}}
    finally:
        await socket.ws.close()


async def test_queries_and_mutations_run_over_the_socket(live: tuple[str, TestApp, World]) -> None:
    url, _api, world = live
    socket = await connect(url, world.tokens["owner"])
    try:
        await socket.send({"id": "q", "type": "subscribe", "payload": {"query": '{ postsList(filter: "public = false") { totalItems } }'}})
        assert await socket.receive() == {"id": "q", "type": "next", "payload": {"data": {"postsList": {"totalItems": 1}}}}
        assert await socket.receive() == {"id": "q", "type": "complete"}
        await socket.send({"id": "m", "type": "subscribe", "payload": {"query": "mutation { createPosts(data: {n: 1}) { id } }"}})
        answer = await socket.receive()
        assert answer["payload"]["errors"][0]["extensions"]["data"]["title"]["code"] == "validation_required"
        assert await socket.receive() == {"id": "m", "type": "complete"}
        await socket.send({"id": "bad", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
        error = await socket.receive()
        assert error["id"] == "bad" and error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "graphql_validation"
    finally:
        await socket.ws.close()


async def _closed_with(url: str, messages: list[dict[str, Any]], subprotocols: list[str] | None = None) -> int | None:
    async with websockets.connect(url, subprotocols=subprotocols or [PROTOCOL], open_timeout=10) as ws:
        for message in messages:
            await ws.send(json.dumps(message))
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None


async def test_protocol_errors_close_with_the_protocols_codes(live: tuple[str, TestApp, World]) -> None:
    url, _api, _world = live
    init = {"type": "connection_init"}
    sub = {"id": "1", "type": "subscribe", "payload": {"query": POSTS}}
    assert await _closed_with(url, [sub]) == 4401
    assert await _closed_with(url, [{"type": "connection_init", "payload": {"Authorization": "not-a-token"}}]) == 4403
    assert await _closed_with(url, [init, init]) == 4429
    assert await _closed_with(url, [init, sub, sub]) == 4409
    assert await _closed_with(url, [init, {"type": "what"}]) == 4400
    assert await _closed_with(url, [init, {"id": "2", "type": "subscribe", "payload": {}}]) == 4400
    assert await _closed_with(url, [], subprotocols=["graphql-ws"]) == 4406


async def test_an_api_key_subscribes_within_its_scopes(live: tuple[str, TestApp, World]) -> None:
    url, api, world = live
    keys = {}
    for scope in ("posts:list", "users:*"):
        res = await api.su("POST", "/api/keys", json={"name": scope, "scopes": [scope]})
        keys[scope] = res.json()["key"]
    allowed, refused = await connect(url, f"Bearer {keys['posts:list']}"), await connect(url, keys["users:*"])
    try:
        await allowed.subscribe("s", "subscription { posts { action record { title } } }")
        await refused.send({"id": "r", "type": "subscribe", "payload": {"query": "subscription { posts { action } }"}})
        answer = await refused.receive()
        assert answer["type"] == "error" and answer["id"] == "r", answer
        body = {"title": "public", "public": True, "author": world.ids["owner"]}
        assert (await api.call("POST", "/api/collections/posts/records", token=world.tokens["owner"], json=body)).status_code == 200
        assert (await allowed.receive())["payload"]["data"]["posts"]["record"] == {"title": "public"}
    finally:
        await allowed.ws.close()
        await refused.ws.close()
