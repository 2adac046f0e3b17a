"""Collection and settings changes while Redis is away (row R9).

Two in-process instances share one SQLite database and reach Redis through a fault proxy each.
While Redis is cut, a change answers 503 with ``Retry-After`` and nothing is written, so both
instances keep serving the same schema. Once it is back, a change reaches the other instance;
and an instance whose own link was down while the other one changed something reloads when
its link returns (pub/sub kept nothing for it).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Api, skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.reliability.fault_proxy import FaultProxy

ITEMS = "/api/collections/items"
WAIT = 15.0


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[list[Api], list[FaultProxy]]]:
    from roost.apis.router import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    target = urlsplit(REDIS_URL)
    schema = "t_" + secrets.token_hex(6)  # this test's own broker channels on the shared Redis
    async with FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as one, \
            FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as two:  # fmt: skip
        apps = [
            App(
                Config(
                    data_dir=tmp_path, db_schema=schema, redis_url=f"redis://127.0.0.1:{p.port}/0"
                )
            )
            for p in (one, two)
        ]
        for app in apps:
            await app.bootstrap()
        await manage_superuser(apps[0], "upsert", "su@example.com", "password123")
        apis = [Api(httpx.AsyncClient(transport=httpx.ASGITransport(app=build_asgi(a)),
                                      base_url="http://roost.test", timeout=WAIT), a) for a in apps]  # fmt: skip
        try:
            for api in apis:
                api.su_token = await api.login("_superusers", "su@example.com", "password123")
            res = await apis[0].su(
                "POST",
                "/api/collections",
                json={"name": "items", "listRule": "", "fields": [{"name": "n", "type": "number"}]},
            )
            assert res.status_code == 200, res.text
            await _until(lambda: _guest_list(apis[1]), 200)
            yield apis, [one, two]
        finally:
            for api in apis:
                await api.client.aclose()
                await api.app.close()


async def _guest_list(api: Api) -> int:
    return (await api.call("GET", f"{ITEMS}/records")).status_code


async def _until(probe: Callable[[], Awaitable[int]], status: int) -> None:
    """Poll ``probe`` until it answers ``status`` (the other instance hears or reloads), bounded."""
    deadline = time.monotonic() + WAIT
    while (answer := await probe()) != status and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert answer == status


def _refused(res: httpx.Response) -> bool:
    return (
        res.status_code == 503
        and res.json()["status"] == 503
        and int(res.headers["retry-after"]) > 0
    )


async def test_changes_answer_503_while_redis_is_cut_and_reach_every_instance_after(
    pair: tuple[list[Api], list[FaultProxy]],
) -> None:
    (a, b), proxies = pair
    for proxy in proxies:
        await proxy.cut()
    changes = [
        ("PATCH", ITEMS, {"listRule": None}),
        ("POST", "/api/collections", {"name": "more", "fields": [{"name": "t", "type": "text"}]}),
        ("DELETE", ITEMS, None),
        ("PUT", "/api/collections/import", {"collections": [{"name": "imported", "type": "base"}]}),
        ("PATCH", "/api/settings", {"meta": {"appName": "During"}}),
    ]
    for method, url, body in changes:
        res = await a.su(method, url, json=body)
        assert _refused(res), (method, url, res.status_code, res.text)
    # nothing was written: both instances still agree with the database
    for api in (a, b):
        assert await _guest_list(api) == 200
        assert (await api.su("GET", "/api/collections/more")).status_code == 404
        assert (await api.su("GET", "/api/settings")).json()["meta"]["appName"] != "During"
    assert (
        await a.call("POST", f"{ITEMS}/records", json={"n": 1}, token=a.su_token)
    ).status_code == 200  # records go on
    invalid = await a.su("PATCH", ITEMS, json={"listRule": "nope ="})
    assert invalid.status_code == 400  # a bad change is still the client's error, checked first

    for proxy in proxies:
        await proxy.restore()
    res = await a.su("PATCH", ITEMS, json={"listRule": None})
    assert res.status_code == 200, res.text
    await _until(lambda: _guest_list(b), 403)
    res = await a.su("PATCH", "/api/settings", json={"meta": {"appName": "After"}})
    assert res.status_code == 200, res.text

    async def app_name() -> int:
        return (
            200 if (await b.su("GET", "/api/settings")).json()["meta"]["appName"] == "After" else 0
        )

    await _until(app_name, 200)


async def test_an_instance_that_missed_a_change_reloads_when_its_link_returns(
    pair: tuple[list[Api], list[FaultProxy]],
) -> None:
    (a, b), (_, b_link) = pair
    await b_link.cut()  # only b is cut off: a can still tell Redis, but b hears nothing
    res = await a.su("PATCH", ITEMS, json={"listRule": None})
    assert res.status_code == 200, res.text
    await asyncio.sleep(0.5)  # what a would have delivered by now, b did not get
    assert await _guest_list(b) == 200
    await b_link.restore()
    await _until(lambda: _guest_list(b), 403)
