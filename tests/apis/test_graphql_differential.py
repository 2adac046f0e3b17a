"""For guest, owner, other user and superuser, each GraphQL read holds exactly the records and
fields the equivalent REST request returns (rules, hidden fields, e-mail visibility, expand)."""

from __future__ import annotations

from tests.conftest import Api
from tests.graphql_world import (
    MORE_OPS,
    MORE_WRITE_OPS,
    OPS,
    WRITE_OPS,
    Op,
    add_views,
    assert_same,
    assert_same_write,
    fill,
    graphql_query,
    graphql_write,
    rest_params,
    rest_url,
    seed,
)

CALLERS = ("guest", "owner", "other", "superuser")


READS = OPS + MORE_OPS
WRITES = WRITE_OPS + MORE_WRITE_OPS


def test_the_table_holds_over_100_distinct_operations() -> None:
    assert len(set(map(repr, READS))) == len(READS) and len(set(map(repr, WRITES))) == len(WRITES)
    assert len(READS) + len(WRITES) >= 100


async def test_graphql_reads_match_rest(api: Api) -> None:
    world = await seed(api)
    await add_views(api, world)
    checked, statuses = 0, set()
    for op in READS:
        for caller in CALLERS:
            token = world.tokens[caller]
            rest = await api.call("GET", rest_url(op, world), token=token, params=rest_params(op))
            res = await api.call("POST", "/api/graphql", token=token, json={"query": graphql_query(op, world)})
            assert res.status_code == 200, res.text
            try:
                assert_same(op, world, rest.json(), rest.status_code, res.json())
            except AssertionError as exc:
                raise AssertionError(f"{caller} {op}: {exc}") from exc
            checked += 1
            statuses.add(rest.status_code)
    assert checked == len(READS) * len(CALLERS)
    assert statuses == {200, 400, 403, 404}, statuses


async def test_the_rules_decide_what_each_caller_sees(api: Api) -> None:
    world = await seed(api)
    query = graphql_query(Op("posts", {"sort": "n"}), world)
    seen = {}
    for caller in CALLERS:
        res = await api.call("POST", "/api/graphql", token=world.tokens[caller], json={"query": query})
        seen[caller] = [item["title"] for item in res.json()["data"]["r"]["items"]]
    # p6 has no author: a guest's empty auth id equals it, as it does for REST
    assert seen["guest"] == ["post p1", "post p3", "post p5", "post p6"]
    assert seen["owner"] == ["post p1", "post p2", "post p3", "post p5"]
    assert seen["other"] == ["post p1", "post p3", "post p4", "post p5"]
    assert seen["superuser"] == [f"post p{i}" for i in range(1, 7)]


async def test_graphql_writes_match_rest(api: Api) -> None:
    world = await seed(api)
    checked, statuses = 0, set()
    for op in WRITES:
        for caller in CALLERS:
            token, url = world.tokens[caller], f"/api/collections/{op.collection}/records"
            body, variables = fill(world, op.body), {}
            twins = [None, None]
            if op.action != "create":
                twins = [(await api.create_record(op.collection, fill(world, op.base)))["id"] for _ in range(2)]
                variables["id"] = twins[1]
            if op.action != "delete":
                variables["d"] = body
            method = {"create": "POST", "update": "PATCH", "delete": "DELETE"}[op.action]
            target = f"{url}/{twins[0]}" if twins[0] else url
            rest = await api.call(method, target, token=token, params={"expand": op.expand} if op.expand else None,
                                  json=body if op.action != "delete" else None)  # fmt: skip
            res = await api.call("POST", "/api/graphql", token=token, json={"query": graphql_write(op, world), "variables": variables})
            try:
                assert_same_write(op, world, rest.json() if rest.content else None, rest.status_code, res.json())
            except AssertionError as exc:
                raise AssertionError(f"{caller} {op}: {exc}") from exc
            checked += 1
            statuses.add(rest.status_code)
    assert checked == len(WRITES) * len(CALLERS)
    assert statuses == {200, 204, 400, 403, 404}, statuses  # successes and each kind of refusal
