"""Field modifiers (``n+``, ``tags+``, ``tags-``) are read-modify-write: concurrent ones must all land.

An outside review sent 8 clients x 150 ``{"n+": 1}`` PATCHes, every one acknowledged, and found
221 of 1,200 on PostgreSQL and 1,043 on SQLite with ``--workers 2``. Here a smaller burst runs on
every database in process, and on a live two-worker server sharing one SQLite file: the stored
value must account for every acknowledged request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cache_services import REDIS_URL
from tests.conftest import Api, skip_or_fail

CLIENTS = 8
EACH = 25
TAGS = [f"t{n}" for n in range(CLIENTS * 5)]
COUNTERS = "/api/collections/counters/records"


def counters_collection() -> dict[str, Any]:
    return {
        "name": "counters",
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "updateRule": "",
        "fields": [
            {"name": "n", "type": "number"},
            {"name": "tags", "type": "select", "maxSelect": len(TAGS), "values": TAGS},
            {"name": "docs", "type": "file", "maxSelect": 99, "maxSize": 1000},
        ],
    }


async def burst(send: Any, bodies: list[list[dict[str, Any]]]) -> int:
    """Each client sends its bodies one after another, all clients at once; returns the 200s."""

    async def client(mine: list[dict[str, Any]]) -> int:
        return sum([(await send(body)).status_code == 200 for body in mine])

    return sum(await asyncio.gather(*(client(mine) for mine in bodies)))


@pytest.fixture
async def counter(api: Api) -> str:
    assert (await api.su("POST", "/api/collections", json=counters_collection())).status_code == 200
    res = await api.call("POST", COUNTERS, json={"n": 0})
    assert res.status_code == 200, res.text
    return str(res.json()["id"])


async def test_concurrent_increments_are_never_lost(api: Api, counter: str) -> None:
    async def send(body: dict[str, Any]) -> httpx.Response:
        return await api.call("PATCH", f"{COUNTERS}/{counter}", json=body)

    acknowledged = await burst(send, [[{"n+": 1}] * EACH] * CLIENTS)
    final = (await api.call("GET", f"{COUNTERS}/{counter}")).json()["n"]
    assert acknowledged == CLIENTS * EACH
    assert final == acknowledged


async def test_concurrent_appends_keep_every_value(api: Api, counter: str) -> None:
    async def send(body: dict[str, Any]) -> httpx.Response:
        return await api.call("PATCH", f"{COUNTERS}/{counter}", json=body)

    per_client = [[{"tags+": tag} for tag in TAGS[c::CLIENTS]] for c in range(CLIENTS)]
    assert await burst(send, per_client) == len(TAGS)
    stored = (await api.call("GET", f"{COUNTERS}/{counter}")).json()["tags"]
    assert sorted(stored) == sorted(TAGS)
    # and removals race with each other just as safely
    removals = [[{"tags-": tag} for tag in TAGS[c::CLIENTS][:3]] for c in range(CLIENTS)]
    assert await burst(send, removals) == CLIENTS * 3
    stored = (await api.call("GET", f"{COUNTERS}/{counter}")).json()["tags"]
    assert sorted(stored) == sorted(t for c in range(CLIENTS) for t in TAGS[c::CLIENTS][3:])


async def test_concurrent_uploads_keep_every_file(api: Api, counter: str) -> None:
    async def send(name: str) -> httpx.Response:
        files = [("docs+", (name, name.encode()))]
        return await api.call("PATCH", f"{COUNTERS}/{counter}", files=files)

    assert await burst(send, [[f"c{c}-{n}.txt" for n in range(3)] for c in range(CLIENTS)]) == CLIENTS * 3
    stored = (await api.call("GET", f"{COUNTERS}/{counter}")).json()["docs"]
    assert len(stored) == CLIENTS * 3
    # every name the record keeps is a file that was stored
    for name in stored:
        assert (await api.call("GET", f"/api/files/counters/{counter}/{name}")).status_code == 200


async def test_increments_inside_concurrent_batches(api: Api, counter: str) -> None:
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    item = {"method": "PATCH", "url": f"{COUNTERS}/{counter}", "body": {"n+": 1}}

    async def send(body: dict[str, Any]) -> httpx.Response:
        return await api.call("POST", "/api/batch", json=body)

    batches = await burst(send, [[{"requests": [item, item]}] * 5] * CLIENTS)
    final = (await api.call("GET", f"{COUNTERS}/{counter}")).json()["n"]
    assert batches == CLIENTS * 5
    assert final == 2 * batches


# --- a live server with two worker processes on one SQLite file ------------------------------


@pytest.fixture(params=["redis", "hub"])
def two_workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``roost serve --workers 2`` on SQLite; the workers talk through Redis or the embedded hub."""
    from tests.e2e.servers import RoostNotReady, ServiceUnavailable, start_server

    monkeypatch.setenv("ROOST_WORKERS", "2")
    monkeypatch.setenv("ROOST_REDIS_URL", REDIS_URL if request.param == "redis" else "")
    try:
        server = start_server("roost")
    except (RoostNotReady, ServiceUnavailable) as exc:
        skip_or_fail(str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.e2e
async def test_increments_hold_across_two_worker_processes(two_workers: Any) -> None:
    token = two_workers.superuser_token()
    async with httpx.AsyncClient(base_url=two_workers.base_url, timeout=30) as http:
        res = await http.post("/api/collections", json=counters_collection(), headers={"Authorization": token})
        assert res.status_code == 200, res.text
        record = (await http.post(COUNTERS, json={"n": 0})).json()["id"]

        async def send(body: dict[str, Any]) -> httpx.Response:
            return await http.patch(f"{COUNTERS}/{record}", json=body)

        acknowledged = await burst(send, [[{"n+": 1}] * EACH] * CLIENTS)
        final = (await http.get(f"{COUNTERS}/{record}")).json()["n"]
    assert acknowledged == CLIENTS * EACH
    assert final == acknowledged
