"""PostgreSQL goes away and comes back (issue 9, defect 7; rows R6-R8).

Roost reaches PostgreSQL through a fault proxy the test starts. While the database is cut or
blackholed, record routes and the health (readiness) check answer 503 with ``Retry-After`` in PocketBase's
error shape (no traceback, no hang); once it is back, the same app serves requests again with
no restart.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import PG_URL, Api, _pg_available, skip_or_fail
from tests.reliability.fault_proxy import FaultProxy

#: a bound on how long a request may take while the database is gone (the connect timeout is 5 s)
HANG_BOUND = 15.0
ITEMS = "/api/collections/items/records"


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[tuple[Api, FaultProxy]]:
    """A Roost on PostgreSQL through a fault proxy, with an ``items`` collection and one record."""
    import asyncpg

    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    schema = "t_" + secrets.token_hex(6)
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    target = urlsplit(PG_URL)
    try:
        async with FaultProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
            url = target._replace(netloc=f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()
            app = App(Config(data_dir=tmp_path, db_url=url, db_schema=schema))
            await app.bootstrap()
            try:
                await manage_superuser(app, "upsert", "su@example.com", "password123")
                transport = httpx.ASGITransport(app=build_asgi(app))
                async with httpx.AsyncClient(transport=transport, base_url="http://roost.test", timeout=HANG_BOUND) as client:
                    api = Api(client, app)
                    api.su_token = await api.login("_superusers", "su@example.com", "password123")
                    res = await api.su("POST", "/api/collections", json={
                        "name": "items", "listRule": "", "viewRule": "", "createRule": "",
                        "fields": [{"name": "n", "type": "number"}]})  # fmt: skip
                    assert res.status_code == 200, res.text
                    assert (await api.call("POST", ITEMS, json={"n": 1})).status_code == 200
                    yield api, proxy
            finally:
                await app.close()
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def _bounded(api: Api, method: str, url: str, **kwargs: object) -> httpx.Response:
    """The request, which must come back (the client's own timeout bounds a hang)."""
    try:
        return await api.call(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        pytest.fail(f"{method} {url} hung for {HANG_BOUND} s while the database was gone")


async def _assert_unavailable(api: Api, item_id: str) -> None:
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("GET", ITEMS, {}),
        ("GET", f"{ITEMS}/{item_id}", {}),
        ("POST", ITEMS, {"json": {"n": 2}}),
        ("GET", f"{ITEMS}?filter=n>0", {"token": api.su_token}),
    ]
    answers = await asyncio.gather(*(_bounded(api, method, url, **kwargs) for method, url, kwargs in calls))
    for (method, url, _), res in zip(calls, answers, strict=True):
        assert res.status_code == 503, (method, url, res.text)
        assert res.json() == {"status": 503, "message": res.json()["message"], "data": {}}, res.text
        assert "Traceback" not in res.text and "asyncpg" not in res.text
        assert int(res.headers["retry-after"]) > 0
    health = await _health_until(api, 503)
    assert health.json()["code"] == 503 and health.json()["message"], health.text
    # on PostgreSQL the broker (LISTEN/NOTIFY) goes with the database
    assert health.json()["data"]["database"]["code"] == "unreachable", health.text
    assert set(health.json()["data"]) <= {"database", "broker"}, health.text
    assert int(health.headers["retry-after"]) > 0
    assert (await _bounded(api, "GET", "/api/health/live")).status_code == 200  # liveness needs no database


async def _health_until(api: Api, status: int) -> httpx.Response:
    """``/api/health`` once it answers ``status``: readiness is re-checked at most once a second."""
    deadline = time.monotonic() + HANG_BOUND
    while (res := await _bounded(api, "GET", "/api/health")).status_code != status and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert res.status_code == status, res.text
    return res


async def _assert_recovers(api: Api) -> None:
    deadline = time.monotonic() + HANG_BOUND
    while (res := await _bounded(api, "GET", ITEMS)).status_code != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert res.status_code == 200, res.text
    assert (await _health_until(api, 200)).json() == {"message": "API is healthy.", "code": 200, "data": {}}
    assert (await api.call("POST", ITEMS, json={"n": 3})).status_code == 200


async def test_a_cut_database_answers_503_then_recovers(outage: tuple[Api, FaultProxy]) -> None:
    api, proxy = outage
    item_id = (await api.call("GET", ITEMS)).json()["items"][0]["id"]
    await proxy.cut()
    await _assert_unavailable(api, item_id)
    await proxy.restore()
    await _assert_recovers(api)
    # once more: the connections opened after the first outage die with the second one
    await proxy.cut()
    await _assert_unavailable(api, item_id)
    await proxy.restore()
    await _assert_recovers(api)


async def test_a_blackholed_database_answers_503_instead_of_hanging(outage: tuple[Api, FaultProxy]) -> None:
    api, proxy = outage
    item_id = (await api.call("GET", ITEMS)).json()["items"][0]["id"]
    await proxy.cut()  # the pooled connections die; new ones meet a network that never answers
    await proxy.blackhole()
    await _assert_unavailable(api, item_id)
    await proxy.restore()
    await _assert_recovers(api)
