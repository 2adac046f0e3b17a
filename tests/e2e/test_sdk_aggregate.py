"""Aggregations and full-text search through the JS SDK's ``pb.send`` and list options."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer


@pytest.mark.parametrize("kind", ["roost", "roost-pg", "roost-mysql"])
def test_aggregate_and_search_through_the_sdk(kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver) -> None:
    server = fresh_server(kind)
    run = sdk.run(server.base_url, [
        superuser_login(server, "su"),
        code("schema", """
            const su = client('su');
            await su.collections.create({name: 'sales', listRule: '', search: {fields: ['title']},
              fields: [{name: 'title', type: 'text'}, {name: 'region', type: 'text'},
                       {name: 'total', type: 'number'}, {name: 'margin', type: 'number', hidden: true},
                       {name: 'sold', type: 'date'}]});
            const rows = [['red bike', 'north', 100, '2024-03-04 10:00:00.000Z'],
                          ['blue bike', 'north', 50, '2024-03-10 12:00:00.000Z'],
                          ['red car', 'south', 1000, '2024-04-01 00:00:00.000Z']];
            for (const [title, region, total, sold] of rows) {
              await su.collection('sales').create({title, region, total, sold, margin: 1});
            }
            return true;"""),
        step("by region", "client('guest').send('/api/collections/sales/aggregate', {query: "
                          "{groupBy: 'region', fields: 'count,sum(total),avg(total)', sort: '-sum(total)'}})"),
        step("by month", "client('guest').send('/api/collections/sales/aggregate', {query: "
                         "{groupBy: 'sold:month', filter: \"title ~ 'bike'\"}})"),
        step("hidden", "client('guest').send('/api/collections/sales/aggregate', {query: {fields: 'sum(margin)'}})"),
        step("search", "client('guest').collection('sales').getList(1, 10, {search: 'RED', fields: 'title'})"),
        step("search and filter", "client('guest').collection('sales').getFullList({search: 'bi', filter: 'total > 60', fields: 'title'})"),
    ])  # fmt: skip
    assert run["by region"].value["items"] == [
        {"region": "south", "count": 1, "sum(total)": 1000, "avg(total)": 1000},
        {"region": "north", "count": 2, "sum(total)": 150, "avg(total)": 75},
    ]
    assert run["by month"].value["items"] == [{"sold:month": "2024-03-01 00:00:00.000Z", "count": 2}]
    assert run["hidden"].status == 400
    assert run["hidden"].response["data"]["fields"]["code"] == "validation_invalid_aggregate"
    assert sorted(i["title"] for i in run["search"].value["items"]) == ["red bike", "red car"]
    assert run["search and filter"].value == [{"title": "red bike"}]
