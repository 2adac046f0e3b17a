"""Relations resolve through core's batched expand: the SQL a GraphQL read costs does not grow
with the number of parent records (counted at the PostgreSQL driver)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import Api

QUERY = """{ parentsList(perPage: 100, sort: "name") { totalItems items {
    name kid { name grand { name } parents_via_kid { name } } kids { name } } } }"""


@pytest.fixture
def backend() -> str:
    return "postgres"


@contextmanager
def counted_statements(api: Api) -> Iterator[list[str]]:
    """Every statement the PostgreSQL driver sends while the block runs (a recording connection
    class in place of the one the backend picked when it opened)."""
    backend = api.app.db._backend  # type: ignore[attr-defined]
    seen: list[str] = []
    picked = backend._connection

    class Recording(picked):  # type: ignore[misc, valid-type]
        async def _run(self, method: str, sql: str, params: Any) -> Any:
            seen.append(sql)
            return await super()._run(method, sql, params)

    backend._connection = Recording
    try:
        yield seen
    finally:
        backend._connection = picked


async def _batch(api: Api, collection: str, bodies: list[dict[str, Any]]) -> list[str]:
    requests = [{"method": "POST", "url": f"/api/collections/{collection}/records", "body": b} for b in bodies]
    res = await api.su("POST", "/api/batch", json={"requests": requests})
    assert res.status_code == 200, res.text
    return [r["body"]["id"] for r in res.json()]


async def _world(api: Api, parents: int) -> None:
    res = await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 200}})
    assert res.status_code == 200, res.text
    grand = await api.create_collection({"name": "grand", "listRule": "", "viewRule": "", "fields": [{"name": "name", "type": "text"}]})
    kids = await api.create_collection({"name": "kids", "listRule": "", "viewRule": "", "fields": [
        {"name": "name", "type": "text"}, {"name": "grand", "type": "relation", "collectionId": grand["id"], "maxSelect": 1}]})  # fmt: skip
    await api.create_collection({"name": "parents", "listRule": "", "viewRule": "", "fields": [
        {"name": "name", "type": "text"}, {"name": "kid", "type": "relation", "collectionId": kids["id"], "maxSelect": 1},
        {"name": "kids", "type": "relation", "collectionId": kids["id"], "maxSelect": 3}]})  # fmt: skip
    grands = await _batch(api, "grand", [{"name": f"g{i}"} for i in range(parents)])
    kid_ids = await _batch(api, "kids", [{"name": f"k{i}", "grand": grands[i]} for i in range(parents)])
    await _batch(api, "parents", [
        {"name": f"p{i:03}", "kid": kid_ids[i], "kids": [kid_ids[(i + 1) % parents], kid_ids[(i + 2) % parents]]}
        for i in range(parents)
    ])  # fmt: skip


async def _statements(api: Api) -> tuple[int, dict[str, Any]]:
    await api.call("POST", "/api/graphql", json={"query": "{ __typename }"})  # the schema is built outside the count
    with counted_statements(api) as seen:
        res = await api.call("POST", "/api/graphql", json={"query": QUERY})
    assert res.status_code == 200 and "errors" not in res.json(), res.text
    # statements on the record tables only: the app's background work (request logs, jobs) may
    # use the pool while the request runs
    on_records = [sql for sql in seen if any(f'"{table}"' in sql for table in ("parents", "kids", "grand"))]
    return len(on_records), res.json()["data"]["parentsList"]


@pytest.mark.parametrize("parents", [5, 50])
async def test_relations_cost_a_bounded_number_of_statements(api: Api, parents: int) -> None:
    await _world(api, parents)
    statements, page = await _statements(api)
    assert page["totalItems"] == parents and len(page["items"]) == parents
    first = page["items"][0]
    assert first["kid"] == {"name": "k0", "grand": {"name": "g0"}, "parents_via_kid": [{"name": "p000"}]}
    assert first["kids"] == [{"name": "k1"}, {"name": "k2"}]
    # the page, its count, and one query per relation and level (kid, kids, grand, back-relation)
    assert 4 <= statements <= 8, statements
    BOUNDS[parents] = statements
    if len(BOUNDS) == 2:
        assert BOUNDS[5] == BOUNDS[50]


BOUNDS: dict[int, int] = {}
