"""The Python ``gql`` client against a live ``roost serve`` (SQLite and PostgreSQL): it loads the
schema by introspection, validates its documents against it, and every read answers what REST
answers for guest, owner, other user and superuser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from roost.testing import TestApp
from tests.conftest import skip_or_fail
from tests.e2e.servers import LiveServer, RoostNotReady, ServiceUnavailable, start_server
from tests.graphql_world import OPS, World, assert_same, graphql_query, rest_params, rest_url, seed

pytestmark = pytest.mark.e2e
CALLERS = ("guest", "owner", "other", "superuser")


@pytest.fixture(params=["roost", "roost-pg"])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    try:
        started = start_server(request.param)  # not inside a running event loop: it may run its own
    except (RoostNotReady, ServiceUnavailable) as exc:
        skip_or_fail(str(exc))
    with started:
        yield started


@pytest.fixture
async def live(server: LiveServer) -> AsyncIterator[tuple[LiveServer, TestApp, World]]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        api = TestApp(http, None, su_token=server.superuser_token())  # type: ignore[arg-type]
        off = {"roostAuth": {"loginThrottle": {"enabled": False}}}
        assert (await api.su("PATCH", "/api/settings", json=off)).status_code == 200
        yield server, api, await seed(api)


async def ask(session: Any, query: str, **variables: Any) -> dict[str, Any]:
    """The answer as GraphQL's ``{data, errors}``, whether or not it holds errors."""
    try:
        return {"data": await session.execute(GraphQLRequest(query, variable_values=variables or None))}
    except TransportQueryError as exc:
        return {"data": exc.data, "errors": exc.errors}


def client(server: LiveServer, token: str | None) -> Client:
    headers = {"Authorization": token} if token else {}
    return Client(transport=HTTPXAsyncTransport(url=server.base_url + "/api/graphql", headers=headers),
                  fetch_schema_from_transport=True)  # fmt: skip


async def test_gql_reads_match_rest(live: tuple[LiveServer, TestApp, World]) -> None:
    server, api, world = live
    checked = 0
    for caller in CALLERS:
        token = world.tokens[caller]
        async with client(server, token) as session:
            for op in OPS:
                rest = await api.call("GET", rest_url(op, world), token=token, params=rest_params(op))
                answer = await ask(session, graphql_query(op, world))
                try:
                    assert_same(op, world, rest.json(), rest.status_code, answer)
                except AssertionError as exc:
                    raise AssertionError(f"{caller} {op}: {exc}") from exc
                checked += 1
    assert checked >= 100


async def test_gql_mutations_and_their_errors(live: tuple[LiveServer, TestApp, World]) -> None:
    server, api, world = live
    async with client(server, world.tokens["owner"]) as session:
        created = await ask(session, "mutation($d: JSON!) { createPosts(data: $d) { id title author { name } } }",
                            d={"title": "from gql", "author": world.ids["owner"]})  # fmt: skip
        post = created["data"]["createPosts"]
        assert post["title"] == "from gql" and post["author"] == {"name": "Owner"}
        # a modifier is not a GraphQL name: it travels in a JSON variable
        updated = await ask(session, "mutation($id: String!, $d: JSON!) { updatePosts(id: $id, data: $d) { tags } }", id=post["id"], d={"tags+": "b"})
        assert updated == {"data": {"updatePosts": {"tags": ["b"]}}}
        invalid = await ask(session, "mutation { createPosts(data: {title: \"\"}) { id } }")
        assert invalid["errors"][0]["extensions"]["data"]["title"]["code"] == "validation_required"
    async with client(server, world.tokens["other"]) as session:
        refused = await ask(session, "mutation($id: String!) { deletePosts(id: $id) }", id=post["id"])
        assert refused["errors"][0]["extensions"]["status"] == 404
    assert (await api.su("GET", f"/api/collections/posts/records/{post['id']}")).json()["tags"] == ["b"]
