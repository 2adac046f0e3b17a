"""Realtime hub internals: grouped evaluation, bounded outboxes, and cache sync between processes."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from roost.apis import build_asgi
from roost.config import Config
from roost.core.app import App
from roost.core.cluster import Cluster
from roost.core.events import RequestInfo
from roost.core.realtime import dispatch as realtime_dispatch
from roost.core.realtime import hub as realtime_hub
from roost.core.realtime.clients import Outbox
from roost.core.realtime.topics import go_string, parse_subscription
from roost.tools.hub import Hub
from tests.cache_services import REDIS_URL, redis_reachable
from tests.conftest import Api, skip_or_fail


async def _posts(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "listRule": "public = true", "viewRule": "public = true",
        "fields": [{"name": "title", "type": "text"}, {"name": "public", "type": "bool"}],
    })  # fmt: skip
    assert res.status_code == 200, res.text


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls = [0]
    original = getattr(realtime_dispatch, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(realtime_dispatch, name, counted)
    return calls


async def test_subscribers_with_the_same_context_share_one_evaluation_and_payload(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _posts(api)
    hub = api.app.realtime
    guests = [hub.connect() for _ in range(200)]
    for client in guests:
        hub.set_subscriptions(client, ["posts/*"])
    evaluations = _count_calls(monkeypatch, "literal_row_matches")
    serialisations = _count_calls(monkeypatch, "serialise")
    await api.su("POST", "/api/collections/posts/records", json={"title": "t", "public": True})
    await hub.drain()
    assert evaluations == [1] and serialisations == [1]
    payloads = {client.outbox.take_ready(10)[0] for client in guests}
    assert len(payloads) == 1


async def test_a_full_outbox_drops_only_that_client(api: Api) -> None:
    await _posts(api)
    hub = api.app.realtime
    hub.queue_size = 3
    slow = hub.connect()
    hub.queue_size = 512
    fast = hub.connect()
    for client in (slow, fast):
        hub.set_subscriptions(client, ["posts/*"])
    for n in range(10):
        await api.su("POST", "/api/collections/posts/records", json={"title": str(n), "public": True})
    await hub.drain()
    assert slow.closed and slow.close_reason == "slow consumer"
    assert len(fast.outbox.take_ready(100)) == 10
    hub.disconnect(slow)
    assert hub.dropped == 1 and slow.id not in hub.clients


async def test_outbox_bounds_and_order() -> None:
    box = Outbox(2)
    assert box.push(("a", b"1")) and box.push(("b", b"2")) and not box.push(("c", b"3"))
    assert await box.pop() == ("a", b"1")
    assert box.take_ready(5) == [("b", b"2")]


def test_subscription_keys_and_options() -> None:
    options = urllib.parse.quote(json.dumps({"query": {"expand": "a", "n": 1, "b": True}, "headers": {"X-Token": 2}}))
    sub = parse_subscription(f"posts/abc?options={options}", client=None)  # type: ignore[arg-type]
    assert (sub.topic, sub.collection, sub.record_id, sub.rule_name) == ("posts/abc", "posts", "abc", "viewRule")
    assert sub.query == {"expand": "a", "n": "1", "b": "true"} and sub.headers == {"x_token": "2"}
    broken = parse_subscription("posts?options=%7Bnot-json", client=None)  # type: ignore[arg-type]
    assert broken.rule_name == "listRule" and broken.query == {}
    assert [go_string(v) for v in (None, 1.0, 1.5, False, [1])] == ["", "1", "1.5", "false", ""]


async def test_collection_changes_and_events_reach_another_process(api: Api) -> None:
    """A second App on the same database and broker stands in for another worker."""
    config: Config = api.app.config
    other = App(config)
    other.cluster = Cluster(other, api.app.cluster.broker)
    other.realtime = other.cluster.realtime
    await other.bootstrap()
    try:
        client = other.realtime.connect()
        other.realtime.set_subscriptions(client, ["posts/*"])
        await _posts(api)
        await other.realtime.drain()
        assert other.collections.get("posts") is not None  # reloaded on the broker's signal
        await api.su("POST", "/api/collections/posts/records", json={"title": "x", "public": True})
        await api.app.realtime.drain()
        await other.realtime.drain()
        [(name, _data)] = client.outbox.take_ready(10)  # type: ignore[misc]
        assert name == "posts/*"
    finally:
        await other.close()


async def test_over_a_cross_process_broker_each_process_delivers_an_event_once(api: Api) -> None:
    """The writing process serves its own subscribers at once and skips its echo from the broker."""
    reason = await redis_reachable()
    if reason:
        skip_or_fail(reason)
    await _posts(api)
    config = api.app.config.model_copy(update={"redis_url": REDIS_URL})
    writer, reader = App(config), App(config)
    for app in (writer, reader):
        await app.bootstrap()
    try:
        clients = [app.realtime.connect() for app in (writer, reader)]
        for app, client in zip((writer, reader), clients, strict=True):
            app.realtime.set_subscriptions(client, ["posts/*"])
        # what reaches each process's dispatch queue through the broker
        from_broker: dict[str, int] = {"writer": 0, "reader": 0}
        for name, app in (("writer", writer), ("reader", reader)):
            queue = app.realtime._events
            assert queue is not None
            put = queue.put_nowait

            def counted(item: tuple[bytes, bool], put: Any = put, name: str = name) -> None:
                from_broker[name] += item[1] and b'"a":"create"' in item[0]
                put(item)

            queue.put_nowait = counted  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=build_asgi(writer))
        async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as http:
            for n in range(3):
                res = await http.post("/api/collections/posts/records", json={"title": str(n), "public": True},
                                      headers={"Authorization": api.su_token})  # fmt: skip
                assert res.status_code == 200, res.text
        await writer.realtime.drain()
        await reader.realtime.drain()
        for client in clients:
            titles = [orjson.loads(item[1])["record"]["title"] for item in client.outbox.take_ready(10) if item]
            assert titles == ["0", "1", "2"]
        # the writer's own copies are dropped on arrival, before they are parsed or queued
        assert from_broker == {"writer": 0, "reader": 3}
    finally:
        for app in (writer, reader):
            await app.close()


async def test_a_burst_of_events_leaves_in_few_publishes_and_arrives_in_order(api: Api) -> None:
    """The 150 events of one batch request are queued at once: the send loop hands them to the
    broker together (one pipeline on Redis), not one round trip each, and another process gets
    every one of them in commit order."""
    reason = await redis_reachable()
    if reason:
        skip_or_fail(reason)
    await _posts(api)
    settings = {"batch": {"enabled": True, "maxRequests": 200}}
    assert (await api.su("PATCH", "/api/settings", json=settings)).status_code == 200
    config = api.app.config.model_copy(update={"redis_url": REDIS_URL})
    writer, reader = App(config), App(config)
    for app in (writer, reader):
        await app.bootstrap()
    try:
        client = reader.realtime.connect()
        reader.realtime.set_subscriptions(client, ["posts/*"])
        publishes: list[int] = []
        broker = writer.realtime.broker
        publish_many = broker.publish_many

        async def counted(channel: str, payloads: list[bytes]) -> None:
            publishes.append(len(payloads))
            await publish_many(channel, payloads)

        broker.publish_many = counted  # type: ignore[method-assign]
        requests = [
            {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": str(n), "public": True}}
            for n in range(150)
        ]
        transport = httpx.ASGITransport(app=build_asgi(writer))
        async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as http:
            res = await http.post("/api/batch", json={"requests": requests}, headers={"Authorization": api.su_token})
            assert res.status_code == 200, res.text
        await writer.realtime.drain()
        await reader.realtime.drain()
        titles = [orjson.loads(item[1])["record"]["title"] for item in client.outbox.take_ready(200) if item]
        assert titles == [str(n) for n in range(150)]
        assert sum(publishes) >= 150 and len(publishes) <= 5, publishes
    finally:
        for app in (writer, reader):
            await app.close()


@pytest.mark.parametrize("backend", ["sqlite", "mysql"])  # PostgreSQL brings its own broker
async def test_over_the_workers_hub_events_are_published_only_while_another_worker_has_clients(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two Apps on one embedded hub stand in for two workers of ``roost serve``. A worker with
    no realtime client does not listen, so the other publishes nothing; the first client's
    stream opens only once the writer knows of it, so no later write is skipped."""
    monkeypatch.setattr(realtime_hub, "LINGER", 0.05)
    hub = Hub()
    path = str(tmp_path / "hub.sock")
    await hub.start(path)
    published: list[bytes] = []
    relay = hub._publish

    def counted(channel: str, payload: bytes) -> None:
        if channel.endswith(".records") and b'"a":"barrier"' not in payload:
            published.append(payload)
        relay(channel, payload)

    hub._publish = counted  # type: ignore[method-assign]
    await _posts(api)
    config = api.app.config.model_copy(update={"hub_url": "hub://" + path})
    writer, reader = App(config), App(config)
    for app in (writer, reader):
        await app.bootstrap()
    channel = writer.realtime.records_channel
    try:
        transport = httpx.ASGITransport(app=build_asgi(writer))
        async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as http:

            async def create(title: str) -> None:
                res = await http.post("/api/collections/posts/records", json={"title": title, "public": True},
                                      headers={"Authorization": api.su_token})  # fmt: skip
                assert res.status_code == 200, res.text
                await writer.realtime.drain()

            await create("nobody listens")
            assert published == [] and writer.realtime._pending == 0
            client = await reader.realtime.open_client(RequestInfo(ip="127.0.0.1"), "127.0.0.1")
            assert writer.cluster.broker.audience(channel) == 1  # known before the stream opened
            reader.realtime.set_subscriptions(client, ["posts/*"])
            await create("heard")
            await reader.realtime.drain()
            assert [orjson.loads(item[1])["record"]["title"] for item in client.outbox.take_ready(10)] == ["heard"]
            assert len(published) == 1
            reader.realtime.disconnect(client)
            for _ in range(100):
                if writer.cluster.broker.audience(channel) == 0:
                    break
                await asyncio.sleep(0.02)
            assert writer.cluster.broker.audience(channel) == 0
            await create("nobody again")
            assert len(published) == 1
    finally:
        for app in (writer, reader):
            await app.close()
        await hub.close()
