"""The aggregate endpoint on every database: groups, buckets, rules, hidden fields, errors, cache."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from roost.testing import ApiScenario, TestApp, login_as
from tests.conftest import Api

AGG = "/api/collections/orders/aggregate"
ALICE = login_as("users", "alice@example.com", "password123")
BOB = login_as("users", "bob@example.com", "password123")
ORDERS = [  # status, total, placed, owner
    ("paid", 10, "2024-01-01 10:00:00.000Z", "alice"),
    ("paid", 2.5, "2024-01-07 23:59:59.999Z", "alice"),  # a Sunday: still the week of Monday Jan 1
    ("open", 7, "2024-02-03 00:00:00.000Z", "alice"),
    ("open", 1, "", "bob"),
    ("void", 4, "2023-12-31 23:00:00.000Z", "bob"),
]


async def seed_orders(api: TestApp) -> dict[str, str]:
    """Two users; ``orders`` listable by their owner only, with a hidden ``cost`` field."""
    ids = {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123"}
        res = await api.call("POST", "/api/collections/users/records", json=body)
        assert res.status_code == 200, res.text
        ids[name] = res.json()["id"]
    res = await api.su("POST", "/api/collections", json={
        "name": "orders", "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
        "fields": [
            {"name": "status", "type": "text"}, {"name": "total", "type": "number"},
            {"name": "placed", "type": "date"}, {"name": "cost", "type": "number", "hidden": True},
            {"name": "paid", "type": "bool"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
        ],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    for status, total, placed, owner in ORDERS:
        body = {"status": status, "total": total, "placed": placed, "owner": ids[owner], "cost": total * 100, "paid": status == "paid"}
        res = await api.su("POST", "/api/collections/orders/records", json=body)
        assert res.status_code == 200, res.text
    return ids


def q(params: str) -> str:
    return AGG + "?" + "&".join(f"{k}={quote(v, safe=',:()-')}" for k, v in (p.split("=", 1) for p in params.split("&")))


row = partial(ApiScenario, before=seed_orders)
BAD = '"message":"Invalid aggregate parameters."'
SCENARIOS = [
    row("superuser groups by status", "GET", q("groupBy=status&fields=count,sum(total),avg(total),min(total),max(total)"),
        auth="superuser", expected_content=[
            '{"status":"open","count":2,"sum(total)":8,"avg(total)":4,"min(total)":1,"max(total)":7}',
            '{"status":"paid","count":2,"sum(total)":12.5,"avg(total)":6.25,"min(total)":2.5,"max(total)":10}',
            '{"status":"void","count":1,"sum(total)":4,"avg(total)":4,"min(total)":4,"max(total)":4}',
            '"totalItems":3']),
    row("the listRule applies first (alice)", "GET", q("fields=count,sum(total)"), auth=ALICE,
        expected_content=['"items":[{"count":3,"sum(total)":19.5}]', '"totalItems":1']),
    row("the listRule applies first (bob)", "GET", q("groupBy=status"), auth=BOB,
        expected_content=['{"status":"open","count":1}', '{"status":"void","count":1}', '"totalItems":2'],
        not_expected_content=['"paid"']),
    row("a guest sees no group", "GET", q("groupBy=status"), expected_content=['"items":[]', '"totalItems":0']),
    row("a guest total is zero", "GET", q("fields=count"), expected_content=['"items":[{"count":0}]']),
    row("filter narrows after the rule", "GET", q("groupBy=status&filter=total>5"), auth=ALICE,
        expected_content=['"items":[{"status":"open","count":1},{"status":"paid","count":1}]']),
    row("month buckets in UTC", "GET", q("groupBy=placed:month"), auth="superuser", expected_content=[
        '"items":[{"placed:month":null,"count":1},{"placed:month":"2023-12-01 00:00:00.000Z","count":1},'
        '{"placed:month":"2024-01-01 00:00:00.000Z","count":2},{"placed:month":"2024-02-01 00:00:00.000Z","count":1}]']),
    row("week buckets start on Monday", "GET", q("groupBy=placed:week&filter=placed!=''"), auth="superuser", expected_content=[
        '"items":[{"placed:week":"2023-12-25 00:00:00.000Z","count":1},{"placed:week":"2024-01-01 00:00:00.000Z","count":2},'
        '{"placed:week":"2024-01-29 00:00:00.000Z","count":1}]']),
    row("year, day and hour buckets", "GET", q("groupBy=placed:year,placed:day,placed:hour&filter=placed~'2024-01'"),
        auth="superuser", expected_content=[
            '{"placed:year":"2024-01-01 00:00:00.000Z","placed:day":"2024-01-01 00:00:00.000Z","placed:hour":"2024-01-01 10:00:00.000Z","count":1}',
            '{"placed:year":"2024-01-01 00:00:00.000Z","placed:day":"2024-01-07 00:00:00.000Z","placed:hour":"2024-01-07 23:00:00.000Z","count":1}']),
    row("sort by an aggregate, then page", "GET", q("groupBy=status&fields=count,sum(total)&sort=-sum(total)&perPage=1&page=2"),
        auth="superuser", expected_content=['"items":[{"status":"open","count":2,"sum(total)":8}]', '"page":2', '"perPage":1',
                                            '"totalItems":3', '"totalPages":3']),
    row("group by a relation id and a bool", "GET", q("groupBy=owner,paid&sort=-count"), auth="superuser",
        expected_content=['{"owner":"$alice","paid":true,"count":2}', '{"owner":"$bob","paid":false,"count":2}',
                          '{"owner":"$alice","paid":false,"count":1}],', '"totalItems":3']),
    row("min and max of a date", "GET", q("fields=min(placed),max(placed)&filter=placed!=''"), auth="superuser",
        expected_content=['"items":[{"min(placed)":"2023-12-31 23:00:00.000Z","max(placed)":"2024-02-03 00:00:00.000Z"}]']),
    row("skipTotal", "GET", q("groupBy=status&skipTotal=1"), auth="superuser",
        expected_content=['"totalItems":-1', '"totalPages":-1']),
    # a hidden field answers exactly like a missing one, wherever it is named
    row("hidden groupBy is refused", "GET", q("groupBy=cost"), auth=ALICE, expected_status=400,
        expected_content=[BAD, '"code":"validation_invalid_group_by"', 'Unknown or unsupported field \\"cost\\"']),
    row("missing groupBy is refused alike", "GET", q("groupBy=nope"), auth=ALICE, expected_status=400,
        expected_content=[BAD, 'Unknown or unsupported field \\"nope\\"']),
    row("hidden aggregate is refused", "GET", q("fields=sum(cost)"), auth=ALICE, expected_status=400,
        expected_content=['"code":"validation_invalid_aggregate"', 'Unknown or unsupported field \\"cost\\"']),
    row("hidden filter is refused", "GET", q("fields=count&filter=cost>500"), auth=ALICE, expected_status=400,
        not_expected_content=['"count"']),
    row("the superuser may use hidden fields", "GET", q("fields=sum(cost)"), auth="superuser",
        expected_content=['"items":[{"sum(cost)":2450}]']),
    row("sum of text is refused", "GET", q("fields=sum(status)"), auth="superuser", expected_status=400,
        expected_content=['"code":"validation_invalid_aggregate"']),
    row("unknown function", "GET", q("fields=median(total)"), auth="superuser", expected_status=400,
        expected_content=['"code":"validation_invalid_aggregate"']),
    row("bucket on a text field", "GET", q("groupBy=status:month"), auth="superuser", expected_status=400,
        expected_content=['"code":"validation_invalid_group_by"']),
    row("unknown bucket", "GET", q("groupBy=placed:minute"), auth="superuser", expected_status=400,
        expected_content=['"code":"validation_invalid_group_by"']),
    row("sort by something not selected", "GET", q("groupBy=status&sort=total"), auth="superuser", expected_status=400,
        expected_content=['"code":"validation_invalid_sort"']),
    row("too many groupBy fields", "GET", q("groupBy=status,total,placed,paid,owner,created"), auth="superuser",
        expected_status=400, expected_content=['"code":"validation_invalid_group_by"']),
    row("bad perPage", "GET", AGG + "?perPage=abc", auth="superuser", expected_status=400, expected_content=['"status":400']),
    row("injection attempt is only a name", "GET", q("groupBy=status);DROP TABLE orders;--"), auth="superuser",
        expected_status=400, expected_content=['"code":"validation_invalid_group_by"']),
    row("missing collection", "GET", "/api/collections/nope/aggregate", expected_status=404),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_aggregate_scenario(api: Api, scenario: ApiScenario) -> None:
    await scenario.run(api)


async def test_superusers_only_list_rule_is_403(api: Api) -> None:
    await seed_orders(api)
    res = await api.su("PATCH", "/api/collections/orders", json={"listRule": None})
    assert res.status_code == 200
    res = await api.call("GET", AGG, token=await ALICE(api))
    assert res.status_code == 403
    assert set(res.json()) == {"status", "message", "data"}


async def test_a_filter_may_not_reach_request_data(api: Api) -> None:
    await seed_orders(api)
    res = await api.call("GET", q("filter=@request.auth.id!=''"), token=await ALICE(api))
    assert res.status_code == 403


async def test_aggregates_follow_writes(api: Api) -> None:
    await seed_orders(api)
    before = (await api.su("GET", q("fields=count,sum(total)"))).json()["items"][0]
    res = await api.su("POST", "/api/collections/orders/records", json={"status": "paid", "total": 100})
    assert res.status_code == 200
    after = (await api.su("GET", q("fields=count,sum(total)"))).json()["items"][0]
    assert after == {"count": before["count"] + 1, "sum(total)": before["sum(total)"] + 100}


async def test_cached_aggregates_are_retired_by_a_write(tmp_path: Path) -> None:
    import httpx

    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    app = App(Config(data_dir=tmp_path, cache_url="memory://"))
    await app.bootstrap()
    try:
        await manage_superuser(app, "upsert", "su@example.com", "password123")
        transport = httpx.ASGITransport(app=build_asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
            api = Api(client, app)
            api.su_token = await api.login("_superusers", "su@example.com", "password123")
            ids = await seed_orders(api)
            token = await ALICE(api)
            url = q("fields=count")
            assert (await api.call("GET", url, token=token)).json()["items"] == [{"count": 3}]
            async with app.db.transaction() as conn:  # behind Roost's back: no record event
                await conn.execute('DELETE FROM "orders" WHERE "status" = :s', {"s": "open"})
            cached: dict[str, Any] = (await api.call("GET", url, token=token)).json()
            assert cached["items"] == [{"count": 3}], "served from the response cache"
            assert app.response_cache.hits >= 1
            res = await api.su("POST", "/api/collections/orders/records", json={"status": "x", "owner": ids["alice"]})
            assert res.status_code == 200
            assert (await api.call("GET", url, token=token)).json()["items"] == [{"count": 3}]  # 2 left + the new one
            bob = (await api.call("GET", url, token=await BOB(api))).json()
            assert bob["items"] == [{"count": 1}], "another caller never gets alice's entry"
    finally:
        await app.close()


async def test_a_hidden_field_answers_exactly_like_a_missing_one(api: Api) -> None:
    await seed_orders(api)
    token = await ALICE(api)
    for hidden, missing in (("groupBy=cost", "groupBy=nope"), ("fields=max(cost)", "fields=max(nope)"),
                            ("filter=cost>0", "filter=nope>0"), ("filter=cost=0", "filter=nope=0")):  # fmt: skip
        a, b = await api.call("GET", q(hidden), token=token), await api.call("GET", q(missing), token=token)
        assert a.status_code == b.status_code == 400
        assert a.text.replace("cost", "X") == b.text.replace("nope", "X"), (a.text, b.text)


async def test_etag_and_view_collections(api: Api) -> None:
    await seed_orders(api)
    res = await api.su("GET", q("groupBy=status"))
    etag = res.headers["etag"]
    again = await api.call("GET", q("groupBy=status"), token=api.su_token, headers={"If-None-Match": etag})
    assert again.status_code == 304
    view = {"name": "order_view", "type": "view", "listRule": "", "viewQuery": "SELECT id, status, total FROM orders"}
    assert (await api.su("POST", "/api/collections", json=view)).status_code == 200
    res = await api.call("GET", "/api/collections/order_view/aggregate?groupBy=status&fields=sum(total)&sort=-sum(total)")
    assert res.status_code == 200, res.text
    assert res.json()["items"][0] == {"status": "paid", "sum(total)": 12.5}


GQL_AGGREGATE = """query($g: String, $f: String, $filter: String, $sort: String) {
  ordersAggregate(groupBy: $g, fields: $f, filter: $filter, sort: $sort) { page perPage totalItems totalPages items }
}"""


async def test_graphql_aggregates_answer_what_rest_answers(api: Api) -> None:
    await seed_orders(api)
    alice = await ALICE(api)
    cases = [  # (caller, groupBy, fields, filter, sort)
        (api.su_token, "status", "count,sum(total),max(placed)", "", "-sum(total)"),
        (alice, "placed:month", "count,avg(total)", "total > 1", "placed:month"),
        (None, "", "count", "", ""),
    ]
    for token, group_by, fields, filter_, sort in cases:
        rest = await api.call("GET", AGG, token=token, params={"groupBy": group_by, "fields": fields, "filter": filter_, "sort": sort})
        body = {"query": GQL_AGGREGATE, "variables": {"g": group_by, "f": fields, "filter": filter_, "sort": sort}}
        answer = (await api.call("POST", "/api/graphql", token=token, json=body)).json()
        assert "errors" not in answer, answer
        assert answer["data"]["ordersAggregate"] == rest.json(), (group_by, fields)
    # alice gets only her orders, as REST's list rule gives her
    mine = await api.call("POST", "/api/graphql", token=alice, json={"query": GQL_AGGREGATE, "variables": {"f": "count"}})
    assert mine.json()["data"]["ordersAggregate"]["items"] == [{"count": 3}]
    # a hidden field is refused with the REST error code in extensions
    refused = await api.call("POST", "/api/graphql", token=alice, json={"query": GQL_AGGREGATE, "variables": {"g": "cost"}})
    error = refused.json()["errors"][0]
    assert error["extensions"]["status"] == 400 and "groupBy" in error["extensions"]["data"], error
