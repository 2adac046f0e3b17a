"""Webhooks end to end: configured through the records API, delivered by the queue to a real
receiver on loopback, signed, retried, logged, and refused towards private addresses."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from roost.plugins.webhooks import Webhooks
from roost.testing import ServiceUnavailable, TestApp, make_test_app
from tests.conftest import skip_or_fail
from tests.http_receiver import Answer, Receiver

POSTS = {
    "name": "posts",
    "createRule": "",
    "updateRule": "",
    "deleteRule": "",
    "fields": [{"name": "title", "type": "text"}],
}


@pytest.fixture
async def api(backend: str, tmp_path: Path) -> AsyncIterator[TestApp]:
    try:
        async with make_test_app(
            tmp_path,
            backend=backend,
            collections=[POSTS],
            builtins=False,
            plugins=[Webhooks(max_attempts=3, backoff=0.1)],
        ) as api:
            api.app.queue.poll_interval = 0.05
            yield api
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


async def deliveries(api: TestApp, count: int, query: str = "") -> list[dict[str, Any]]:
    """The delivery log once it holds ``count`` entries (a bounded wait, not a timed assertion)."""
    for _ in range(1500):
        res = await api.su(
            "GET",
            "/api/collections/_webhookDeliveries/records",
            params={"sort": "created,attempt", "filter": query},
        )
        assert res.status_code == 200, res.text
        items: list[dict[str, Any]] = res.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {len(items)} deliveries logged")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver side, as docs/webhooks.md shows it."""
    signed = headers["x-roost-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-roost-signature"])


async def test_a_change_is_delivered_signed_and_retried_after_a_receiver_failure(
    api: TestApp,
) -> None:
    with Receiver(Answer(500, b"down"), Answer(204, b"")) as receiver:
        res = await api.su("POST", "/api/collections/_webhooks/records", json={
            "collection": "posts", "events": ["create", "update"], "url": receiver.url + "/hooks/posts", "allowPrivate": True,
        })  # fmt: skip
        assert res.status_code == 200, res.text
        webhook = res.json()
        assert len(webhook["secret"]) == 40
        post = (
            await api.call("POST", "/api/collections/posts/records", json={"title": "hello"})
        ).json()
        log = await deliveries(api, 2)
        assert (
            await api.call("DELETE", f"/api/collections/posts/records/{post['id']}")
        ).status_code == 204
        await api.call("POST", "/api/collections/posts/records", json={"title": "again"})
        await deliveries(api, 3)

    first, second, third = receiver.received
    assert first.body == second.body  # the same event, retried
    assert first.headers["x-roost-delivery"] == second.headers["x-roost-delivery"]
    event = orjson.loads(second.body)
    assert (event["event"], event["collection"], event["collectionId"]) == (
        "create",
        "posts",
        post["collectionId"],
    )
    assert event["record"] == post
    assert event["timestamp"] and second.path == "/hooks/posts"
    for received in receiver.received:
        assert verify(webhook["secret"], received.headers, received.body)
        assert received.headers["x-roost-event"] == "create"
        assert received.headers["x-roost-webhook"] == webhook["id"]
    assert not verify("another secret 1234", second.headers, second.body)
    assert orjson.loads(third.body)["record"]["title"] == "again"  # the delete was not subscribed

    assert [(d["attempt"], d["status"], d["statusCode"], d["retry"]) for d in log[:2]] == [
        (1, "failed", 500, True),
        (2, "delivered", 204, False),
    ]
    assert log[0]["error"] == "the receiver answered 500" and log[1]["error"] == ""
    assert {d["record"] for d in log[:2]} == {post["id"]} and {d["webhook"] for d in log} == {
        webhook["id"]
    }


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_receiver_that_keeps_failing_is_given_up_after_max_attempts(api: TestApp) -> None:
    with Receiver(Answer(503, b"no")) as receiver:
        res = await api.su("POST", "/api/collections/_webhooks/records", json={
            "collection": "posts", "events": ["create"], "url": receiver.url, "allowPrivate": True})  # fmt: skip
        assert res.status_code == 200
        await api.call("POST", "/api/collections/posts/records", json={"title": "x"})
        log = await deliveries(api, 3)
    assert [(d["attempt"], d["status"], d["retry"]) for d in log] == [
        (1, "failed", True),
        (2, "failed", True),
        (3, "failed", False),
    ]
    assert len(receiver.received) == 3
    assert api.roost is not None
    plugin = api.roost.plugins[0]
    assert isinstance(plugin, Webhooks)
    assert await plugin.prune(api.app) == 0
    plugin.keep_deliveries = timedelta(seconds=-1)
    assert await plugin.prune(api.app) == 3
    assert (await api.su("GET", "/api/collections/_webhookDeliveries/records")).json()[
        "totalItems"
    ] == 0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_private_addresses_are_refused_once_and_logged(api: TestApp) -> None:
    with Receiver() as receiver:
        urls = [
            receiver.url + "/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/hook",
            "http://localhost:9/",
        ]
        for url in urls:
            res = await api.su(
                "POST",
                "/api/collections/_webhooks/records",
                json={"collection": "posts", "events": ["create"], "url": url},
            )
            assert res.status_code == 200, res.text
        await api.call("POST", "/api/collections/posts/records", json={"title": "x"})
        log = await deliveries(api, len(urls))
        jobs = await api.app.db.fetch_all(
            'SELECT "status", "attempts" FROM "_jobs" WHERE "kind" = \'webhooks.deliver\''
        )
    assert receiver.received == []
    assert sorted(d["url"] for d in log) == sorted(urls)
    assert {(d["status"], d["attempt"], d["retry"]) for d in log} == {("refused", 1, False)}
    assert all("refused to connect" in d["error"] for d in log)
    assert [dict(j) for j in jobs] == [{"status": "failed", "attempts": 1}] * len(urls)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_webhooks_are_for_superusers_and_existing_collections(api: TestApp) -> None:
    body = {"collection": "posts", "events": ["create"], "url": "https://example.com/hook"}
    assert (
        await api.call("POST", "/api/collections/_webhooks/records", json=body)
    ).status_code in (400, 403)
    assert (await api.call("GET", "/api/collections/_webhooks/records")).status_code == 403
    res = await api.su(
        "POST", "/api/collections/_webhooks/records", json={**body, "collection": "nope"}
    )
    assert (
        res.status_code == 400
        and res.json()["data"]["collection"]["code"] == "validation_invalid_collection"
    )
    res = await api.su(
        "POST", "/api/collections/_webhooks/records", json={**body, "events": ["explode"]}
    )
    assert res.status_code == 400 and "events" in res.json()["data"]


async def test_the_builtin_plugin_creates_its_collections_on_first_use(tmp_path: Path) -> None:
    async with make_test_app(tmp_path) as api:
        names = {
            c["name"]
            for c in (await api.su("GET", "/api/collections", params={"perPage": 100})).json()[
                "items"
            ]
        }
        assert "_webhooks" not in names
        assert (await api.su("GET", "/api/collections/_webhooks/records")).status_code == 200
        names = {
            c["name"]
            for c in (await api.su("GET", "/api/collections", params={"perPage": 100})).json()[
                "items"
            ]
        }
        assert {"_webhooks", "_webhookDeliveries"} <= names
