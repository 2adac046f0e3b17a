"""GraphQL on two ``roost serve`` processes sharing PostgreSQL and Redis: a collection change made
on A reaches B's schema, and a write on A reaches a GraphQL subscriber on B."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from .pairs import instance_pair
from .servers import LiveServer


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with instance_pair(tmp_path, "redis") as servers:
        yield servers


def _until_valid(http: httpx.Client, query: str, attempts: int = 200) -> dict[str, Any]:
    """B's answer once its schema knows what ``query`` asks for (the change travels through Redis)."""
    answer: dict[str, Any] = {}
    for _ in range(attempts):
        answer = http.post("/api/graphql", json={"query": query}).json()
        if not any(e["extensions"]["code"] == "graphql_validation" for e in answer.get("errors", [])):
            return answer
        time.sleep(0.05)
    raise AssertionError(f"B never served {query!r}: {answer}")


async def _next_event(url: str, token: str, publish: Any) -> dict[str, Any]:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": token}}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        query = "subscription { notes { action record { title mood } } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
        await asyncio.to_thread(publish)
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
        return message


def test_schema_changes_and_events_cross_instances(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    token = a.superuser_token()
    headers = {"Authorization": token}
    with httpx.Client(base_url=a.base_url, headers=headers) as on_a, httpx.Client(base_url=b.base_url, headers=headers) as on_b:
        res = on_a.post("/api/collections", json={"name": "notes", "listRule": "", "viewRule": "", "fields": [{"name": "title", "type": "text"}]})
        assert res.status_code == 200, res.text
        assert _until_valid(on_b, "{ notesList { totalItems } }") == {"data": {"notesList": {"totalItems": 0}}}
        fields = [*res.json()["fields"], {"name": "mood", "type": "number"}]
        assert on_a.patch("/api/collections/notes", json={"fields": fields}).status_code == 200
        assert _until_valid(on_b, "{ notesList { items { mood } } }") == {"data": {"notesList": {"items": []}}}

        def publish() -> None:
            assert on_a.post("/api/collections/notes/records", json={"title": "from A", "mood": 3}).status_code == 200

        event = asyncio.run(_next_event(b.base_url.replace("http", "ws", 1) + "/api/graphql", token, publish))
    assert event == {"id": "1", "type": "next", "payload": {"data": {"notes": {"action": "create", "record": {"title": "from A", "mood": 3}}}}}
