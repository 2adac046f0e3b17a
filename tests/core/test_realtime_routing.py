"""Requests about a realtime client held by another process reach that process through the broker.

Two Apps in one test process, each with its own broker connection (Redis, or PostgreSQL
LISTEN/NOTIFY), stand in for two instances behind a load balancer without sticky sessions.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from roost.core.app import App
from roost.core.auth import tokens
from roost.core.auth.forms import find_by_email
from roost.core.auth.oauth2_redirect import deliver_redirect
from roost.core.realtime.clients import Client, new_client_id
from tests.conftest import PG_URL, Api, _pg_available, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/0"
Pair = tuple[Api, Api]


async def _token(app: App, collection: str, email: str) -> str:
    # issued directly rather than through auth-with-password, whose Redis-backed throttle is
    # not what these tests are about
    coll = app.collections.get(collection)
    assert coll is not None
    record = await find_by_email(app, coll, email)
    assert record is not None
    return tokens.issue(coll, record)


async def _api(app: App) -> Api:
    from roost.apis import build_asgi

    transport = httpx.ASGITransport(app=build_asgi(app))
    api = Api(httpx.AsyncClient(transport=transport, base_url="http://roost.test"), app)
    api.su_token = await _token(app, "_superusers", "su@example.com")
    return api


@pytest.fixture(params=["redis", "listen-notify"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Pair]:
    import asyncpg

    from roost.config import Config
    from roost.core.superusers import manage_superuser

    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    schema = "t_" + secrets.token_hex(6)
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    redis_url = REDIS_URL if request.param == "redis" else ""
    apps = [App(Config(data_dir=tmp_path / n, db_url=PG_URL, db_schema=schema, redis_url=redis_url)) for n in "ab"]
    for app in apps:
        await app.bootstrap()
    await manage_superuser(apps[0], "upsert", "su@example.com", "password123")
    a, b = [await _api(app) for app in apps]
    yield a, b
    for api in (a, b):
        await api.client.aclose()
        await api.app.close()
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


async def _setup(a: Api, b: Api) -> None:
    res = await a.su("POST", "/api/collections", json={
        "name": "notes", "listRule": "@request.auth.id != ''", "viewRule": "", "createRule": "",
        "fields": [{"name": "n", "type": "number"}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    for email in ("ann@example.com", "bob@example.com"):
        res = await a.call("POST", "/api/collections/users/records",
                           json={"email": email, "password": "password123", "passwordConfirm": "password123"})
        assert res.status_code == 200, res.text
    await a.app.realtime.drain()
    await b.app.collections.load()


async def _events(api: Api, client: Client) -> list[tuple[str, bytes]]:
    await api.app.realtime.drain()
    return [item for item in client.outbox.take_ready(100) if item is not None]


async def test_a_subscribe_sent_to_another_instance_binds_auth_and_delivers(pair: Pair) -> None:
    a, b = pair
    await _setup(a, b)
    ann = await _token(b.app, "users", "ann@example.com")
    client = a.app.realtime.connect("10.0.0.1")
    res = await b.call("POST", "/api/realtime", token=ann, json={"clientId": client.id, "subscriptions": ["notes/*"]})
    assert res.status_code == 204, res.text
    assert client.auth is not None and client.auth["email"] == "ann@example.com"
    for api, n in ((b, 1), (a, 2)):
        assert (await api.call("POST", "/api/collections/notes/records", json={"n": n})).status_code == 200
        await api.app.realtime.drain()
    events = await _events(a, client)
    assert [name for name, _ in events] == ["notes/*", "notes/*"]
    assert b'"n":1' in events[0][1] and b'"n":2' in events[1][1]


async def test_a_forwarded_subscribe_answers_as_a_local_one_would(pair: Pair) -> None:
    a, b = pair
    await _setup(a, b)
    ann = await _token(b.app, "users", "ann@example.com")
    bob = await _token(b.app, "users", "bob@example.com")
    client = a.app.realtime.connect()
    body = {"clientId": client.id, "subscriptions": ["notes/*"]}
    assert (await b.call("POST", "/api/realtime", token=ann, json=body)).status_code == 204
    for token in (bob, ""):
        res = await b.call("POST", "/api/realtime", token=token, json=body)
        assert res.status_code == 403, res.text
        assert res.json()["message"] == "The current and the previous request authorization don't match."
    assert (await b.call("POST", "/api/realtime", token=ann, json=body)).status_code == 204
    res = await b.call("POST", "/api/realtime", json={"clientId": client.id, "subscriptions": ["x" * 2501]})
    assert res.status_code == 400 and res.json()["data"]["subscriptions"]["0"]["code"] == "validation_length_too_long"
    a.app.realtime.disconnect(client)
    res = await b.call("POST", "/api/realtime", token=ann, json=body)
    assert res.status_code == 404 and res.json()["message"] == "Missing or invalid client id."


async def test_a_client_id_of_no_running_instance_is_unknown(pair: Pair) -> None:
    _, b = pair
    b.app.realtime.control.timeout = 0.2
    for client_id in (new_client_id("Zz000000"), "not-a-roost-client-id"):
        res = await b.call("POST", "/api/realtime", json={"clientId": client_id, "subscriptions": []})
        assert res.status_code == 404 and res.json()["message"] == "Missing or invalid client id."


async def test_an_oauth2_redirect_on_another_instance_reaches_the_popup_client(pair: Pair) -> None:
    a, b = pair
    client = a.app.realtime.connect("10.0.0.1")
    a.app.realtime.set_subscriptions(client, ["@oauth2"])
    assert await deliver_redirect(b.app, {"state": client.id, "code": "c"}, "10.0.0.2") is False
    assert await deliver_redirect(b.app, {"state": client.id, "code": "c"}, "10.0.0.1") is True
    assert await _events(a, client) == [("@oauth2", b'{"state":"' + client.id.encode() + b'","code":"c"}')]
    assert "@oauth2" not in client.subscriptions
    assert await deliver_redirect(b.app, {"state": client.id, "code": "c"}, "10.0.0.1") is False


async def test_client_ids_keep_the_sdk_form_and_name_their_instance(api: Api) -> None:
    hub = api.app.realtime
    ids = [hub.connect().id for _ in range(50)]
    assert all(len(i) == 40 and i.isalnum() and i.isascii() and i.startswith(hub.node) for i in ids)
    assert len(set(ids)) == 50
    hub.control.timeout = 0.2  # on PostgreSQL the broker is LISTEN/NOTIFY, so it asks first
    res = await api.call("POST", "/api/realtime", json={"clientId": new_client_id("Zz000000"), "subscriptions": []})
    assert res.status_code == 404


async def test_the_control_channel_survives_malformed_messages(pair: Pair) -> None:
    a, b = pair
    owner, asker = a.app.realtime, b.app.realtime
    channel = owner.control.channel(owner.node)
    for junk in (b"not json", b"[1]", b'{"k":"ask","op":"subscribe","ref":"r","from":"x","args":"no"}'):
        await b.app.cluster.broker.publish(channel, junk)
    asker.control.timeout = 0.2
    assert await asker.control.ask(owner.node, "no-such-operation", {}) is None
    client = owner.connect()
    res = await b.call("POST", "/api/realtime", json={"clientId": client.id, "subscriptions": ["notes"]})
    assert res.status_code == 204 and list(client.subscriptions) == ["notes"]
