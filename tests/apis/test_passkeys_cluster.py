"""Passkey ceremonies across two instances sharing PostgreSQL and Redis: a challenge issued by
one instance is accepted once, by either."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.cache_services import REDIS_URL, redis_reachable
from tests.conftest import PG_URL, _pg_available, skip_or_fail
from tests.webauthn_authenticator import SoftAuthenticator

U = "/api/collections/users/"


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[list[httpx.AsyncClient]]:
    import asyncpg

    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    for reason in (await _pg_available(), await redis_reachable()):
        if reason:
            skip_or_fail(reason)
    schema = "t_" + secrets.token_hex(6)
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    apps = [App(Config(data_dir=tmp_path / f"n{n}", db_url=PG_URL, db_schema=schema, redis_url=REDIS_URL)) for n in range(2)]
    for app in apps:
        await app.bootstrap()
    await manage_superuser(apps[0], "upsert", "su@example.com", "password123")
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=build_asgi(a)), base_url="http://roost.test")
        for a in apps
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for app in apps:
            await app.close()
        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def _token(client: httpx.AsyncClient, coll: str, email: str) -> str:
    res = await client.post(f"/api/collections/{coll}/auth-with-password", json={"identity": email, "password": "password123"})
    assert res.status_code == 200, res.text
    return str(res.json()["token"])


async def test_ceremonies_span_instances(nodes: list[httpx.AsyncClient]) -> None:
    a, b = nodes
    su = {"Authorization": await _token(a, "_superusers", "su@example.com")}
    assert (await a.patch("/api/collections/users", headers=su, json={"passkey": {"enabled": True}})).status_code == 200
    body = {"email": "c1@example.com", "password": "password123", "passwordConfirm": "password123"}
    assert (await a.post(U + "records", json=body)).status_code == 200
    auth = {"Authorization": await _token(a, "users", "c1@example.com")}
    device = SoftAuthenticator("http://localhost:8090")
    options = (await a.post(U + "passkeys/registration-options", headers=auth)).json()
    registered = await b.post(U + "passkeys", headers=auth, json={"credential": device.create(options)})
    assert registered.status_code == 200, registered.text
    login = (await b.post(U + "request-passkey-options", json={"identity": "c1@example.com"})).json()
    assertion = device.get(login)
    done = await a.post(U + "auth-with-passkey", json={"credential": assertion})
    assert done.status_code == 200, done.text
    assert done.json()["record"]["email"] == "c1@example.com"
    replay = await b.post(U + "auth-with-passkey", json={"credential": assertion})
    assert (replay.status_code, replay.json()["message"]) == (400, "Invalid or expired passkey challenge.")
    listed = await b.get(U + "passkeys", headers=auth)
    assert [p["signCount"] for p in listed.json()] == [1]
