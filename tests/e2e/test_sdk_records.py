"""Records through the JS SDK: every field type, validation errors, filters, expand and fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .s3_server_kind import KINDS_WITH_S3, server_with_s3
from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer


@pytest.fixture(scope="module", params=KINDS_WITH_S3)
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """Each server kind, plus Roost with its files on S3."""
    yield from server_with_s3(request)

PUBLIC = {"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}

SCHEMA = [
    {"name": "sdk_cats", **PUBLIC, "fields": [{"name": "name", "type": "text", "required": True}]},
    {"name": "sdk_items", **PUBLIC, "fields": [
        {"name": "title", "type": "text", "required": True, "min": 2, "max": 30},
        {"name": "code", "type": "text", "pattern": "^[A-Z]+-[0-9]+$"},
        {"name": "qty", "type": "number", "min": 0, "max": 1000, "onlyInt": True},
        {"name": "price", "type": "number"},
        {"name": "active", "type": "bool"},
        {"name": "contact", "type": "email", "onlyDomains": ["example.com"]},
        {"name": "site", "type": "url"},
        {"name": "notes", "type": "editor"},
        {"name": "due", "type": "date"},
        {"name": "status", "type": "select", "values": ["new", "done"], "maxSelect": 1},
        {"name": "tags", "type": "select", "values": ["red", "green", "blue"], "maxSelect": 3},
        {"name": "meta", "type": "json"},
        {"name": "cat", "type": "relation", "collectionId": "@sdk_cats", "maxSelect": 1},
        {"name": "cats", "type": "relation", "collectionId": "@sdk_cats", "maxSelect": 5},
        {"name": "attachment", "type": "file", "maxSelect": 1, "maxSize": 10000},
        {"name": "where", "type": "geoPoint"},
        {"name": "created", "type": "autodate", "onCreate": True},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]},
    {"name": "sdk_reviews", **PUBLIC, "fields": [
        {"name": "item", "type": "relation", "collectionId": "@sdk_items", "maxSelect": 1},
        {"name": "stars", "type": "number"},
    ]},
]

SCHEMA_SETUP = """
const ids = {};
for (const def of vars.schema) {
  const fields = def.fields.map(f => f.collectionId?.startsWith('@')
    ? {...f, collectionId: ids[f.collectionId.slice(1)]} : f);
  const created = await pb.collections.create({...def, fields});
  ids[def.name] = created.id;
}
const cats = {};
for (const name of ['alpha', 'beta', 'gamma']) {
  cats[name] = (await pb.collection('sdk_cats').create({name})).id;
}
return cats;
"""


@pytest.fixture(scope="module")
def cats(server: LiveServer, sdk: SdkDriver) -> dict[str, str]:
    run = sdk.run(server.base_url, [
        superuser_login(server),
        code("schema", f"vars.schema = {_js(SCHEMA)}; return true;"),
        code("setup", SCHEMA_SETUP),
    ])
    return dict(run["setup"].value)


def _js(value: Any) -> str:
    import json

    return json.dumps(value)


def test_crud_with_every_field_type(server: LiveServer, sdk: SdkDriver, cats: dict[str, str]) -> None:
    full = {
        "title": "Full", "code": "AB-12", "qty": 5, "price": 9.5, "active": True,
        "contact": "shop@example.com", "site": "https://example.net/x", "notes": "<p>hi</p>",
        "due": "2025-06-07 08:09:10.000Z", "status": "new", "tags": ["red", "blue"],
        "meta": {"nested": [1, "two", None]}, "cat": cats["alpha"], "cats": [cats["beta"], cats["gamma"]],
        "where": {"lon": -0.1276, "lat": 51.5072},
    }
    run = sdk.run(server.base_url, [
        step("create", f"pb.collection('sdk_items').create({{...{_js(full)},"
                       " attachment: new File(['hello file'], 'Read Me.txt', {type: 'text/plain'})})",
             save="item"),
        step("empty", "pb.collection('sdk_items').create({title: 'Empty'})", save="empty"),
        step("get", "pb.collection('sdk_items').getOne(vars.item.id)"),
        step("file url", "pb.files.getURL(vars.item, vars.item.attachment)"),
        step("download", "fetch(pb.files.getURL(vars.item, vars.item.attachment)).then(r => r.text())"),
        step("modifiers", "pb.collection('sdk_items').update(vars.item.id,"
                          " {'qty+': 10, 'price-': 0.5, 'tags-': 'red', 'tags+': 'green',"
                          f" 'cats-': {_js(cats['beta'])}}})"),
        step("clear", "pb.collection('sdk_items').update(vars.item.id,"
                      " {attachment: null, meta: null, cat: '', due: ''})"),
        step("first", "pb.collection('sdk_items').getFirstListItem(pb.filter('id = {:id}', {id: vars.empty.id}))"),
        step("delete", "pb.collection('sdk_items').delete(vars.empty.id)"),
        step("get deleted", "pb.collection('sdk_items').getOne(vars.empty.id)"),
    ])
    created = run["create"].value
    for key, value in full.items():
        assert created[key] == value, key
    assert created["collectionName"] == "sdk_items"
    assert created["attachment"].startswith("read_me_") and created["attachment"].endswith(".txt")
    assert created["created"] == created["updated"]
    assert created["created"].endswith("Z") and " " in created["created"]
    empty = run["empty"].value
    assert {k: empty[k] for k in full} == {
        "title": "Empty", "code": "", "qty": 0, "price": 0, "active": False, "contact": "",
        "site": "", "notes": "", "due": "", "status": "", "tags": [], "meta": None, "cat": "",
        "cats": [], "where": {"lon": 0, "lat": 0},
    }
    assert empty["attachment"] == ""
    assert run["get"].value == created
    assert run["file url"].value.endswith(f"/api/files/{created['collectionId']}/{created['id']}/{created['attachment']}")
    assert run["download"].value == "hello file"
    modified = run["modifiers"].value
    assert (modified["qty"], modified["price"], modified["tags"]) == (15, 9, ["blue", "green"])
    assert modified["cats"] == [cats["gamma"]]
    cleared = run["clear"].value
    assert (cleared["attachment"], cleared["meta"], cleared["cat"], cleared["due"]) == ("", None, "", "")
    assert run["first"].value["id"] == empty["id"]
    assert run["delete"].value is True
    assert run["get deleted"].status == 404


def test_validation_errors(server: LiveServer, sdk: SdkDriver, cats: dict[str, str]) -> None:
    run = sdk.run(server.base_url, [
        step("missing title", "pb.collection('sdk_items').create({qty: 1})"),
        step("bad values", "pb.collection('sdk_items').create({title: 'x', code: 'lower-1', qty: 2.5,"
                           " contact: 'a@elsewhere.org', site: 'nope', status: 'maybe', tags: ['pink']})"),
        step("range", "pb.collection('sdk_items').create({title: 'Range', qty: 5000})"),
        step("bad relation", "pb.collection('sdk_items').create({title: 'Rel', cat: 'nonexisting0001'})"),
        step("too big file", "pb.collection('sdk_items').create({title: 'File',"
                             " attachment: new File(['x'.repeat(20000)], 'big.txt', {type: 'text/plain'})})"),
    ])
    missing = run["missing title"]
    assert missing.status == 400
    assert missing.response["message"] == "Failed to create record."
    assert missing.response["data"]["title"] == {"code": "validation_required", "message": "Cannot be blank."}
    assert run["bad values"].error_codes() == {
        "title": "validation_min_text_constraint",
        "code": "validation_invalid_format",
        "qty": "validation_only_int_constraint",
        "contact": "validation_email_domain_not_allowed",
        "site": "validation_invalid_url",
        "status": "validation_invalid_value",
        "tags": "validation_invalid_value",
    }
    assert run["bad values"].response["data"]["title"]["params"] == {"min": 2}
    assert run["range"].response["data"]["qty"] == {
        "code": "validation_max_number_constraint",
        "message": "Must be less or equal than 1000.",
        "params": {"max": 1000},
    }
    assert run["bad relation"].error_codes() == {"cat": "validation_missing_rel_records"}
    assert run["too big file"].error_codes() == {"attachment": "validation_file_size_limit"}


FILTER_SEED = """
const rows = [
  {title: 'Apple pie', qty: 3, price: 4.5, active: true, tags: ['red'], cat: vars.cats.alpha,
   cats: [vars.cats.alpha, vars.cats.beta], due: '2024-01-10 00:00:00.000Z', meta: {rank: 1}},
  {title: 'Banana', qty: 12, price: 1.25, active: false, tags: ['green', 'blue'], cat: vars.cats.beta,
   cats: [vars.cats.beta], due: '2024-06-01 12:00:00.000Z', meta: {rank: 2}},
  {title: 'Cherry tart', qty: 0, price: 7, active: true, tags: [], cat: '', cats: [],
   meta: {rank: 3}},
  {title: 'apple juice', qty: 30, price: 2, active: true, tags: ['red', 'green', 'blue'],
   cat: vars.cats.gamma, cats: [vars.cats.gamma, vars.cats.alpha], due: '2030-01-01 00:00:00.000Z'},
];
const ids = {};
for (const row of rows) {
  ids[row.title] = (await pb.collection('sdk_filter').create(row)).id;
}
const reviews = [['Apple pie', 5], ['Apple pie', 3], ['Banana', 1]];
for (const [title, stars] of reviews) {
  await pb.collection('sdk_filter_reviews').create({item: ids[title], stars});
}
return ids;
"""


@pytest.fixture(scope="module")
def filter_rows(server: LiveServer, sdk: SdkDriver, cats: dict[str, str]) -> dict[str, str]:
    items = next(c for c in SCHEMA if c["name"] == "sdk_items")
    reviews = next(c for c in SCHEMA if c["name"] == "sdk_reviews")
    run = sdk.run(server.base_url, [
        superuser_login(server),
        code("schema", f"""
            const cats = await pb.collections.getOne('sdk_cats');
            const fix = f => f.collectionId === '@sdk_cats' ? {{...f, collectionId: cats.id}} : f;
            const items = await pb.collections.create({{...{_js(items)}, name: 'sdk_filter',
                fields: {_js(items['fields'])}.map(fix)}});
            await pb.collections.create({{...{_js(reviews)}, name: 'sdk_filter_reviews',
                fields: [{{name: 'item', type: 'relation', collectionId: items.id, maxSelect: 1}},
                         {{name: 'stars', type: 'number'}}]}});
            return true;"""),
        code("seed", f"vars.cats = {_js(cats)};\n{FILTER_SEED}"),
    ])
    return dict(run["seed"].value)


FILTERS = [
    ("qty = 12", ["Banana"]),
    ("qty != 12", ["Apple pie", "Cherry tart", "apple juice"]),
    ("qty > 3", ["Banana", "apple juice"]),
    ("qty >= 3", ["Apple pie", "Banana", "apple juice"]),
    ("price < 2", ["Banana"]),
    ("price <= 2", ["Banana", "apple juice"]),
    ("title ~ 'apple'", ["Apple pie", "apple juice"]),
    ("title !~ 'apple'", ["Banana", "Cherry tart"]),
    ("title:lower = 'banana'", ["Banana"]),
    ("active = true && qty < 10", ["Apple pie", "Cherry tart"]),
    ("active = false || price > 5", ["Banana", "Cherry tart"]),
    ("tags:length = 0", ["Cherry tart"]),
    ("tags:length >= 2", ["Banana", "apple juice"]),
    ("tags:each ?= 'green'", ["Banana", "apple juice"]),
    ("tags:each != 'green'", ["Apple pie", "Cherry tart"]),
    ("tags ~ 'red'", ["Apple pie", "apple juice"]),
    ("cat.name = 'beta'", ["Banana"]),
    ("cat = ''", ["Cherry tart"]),
    ("cats.name ?= 'alpha'", ["Apple pie", "apple juice"]),
    ("cats.name = 'beta'", ["Banana"]),
    # An empty multi relation joins as one NULL row, and NULL "is not" 'beta', so it matches.
    ("cats.name ?!= 'beta'", ["Apple pie", "Cherry tart", "apple juice"]),
    ("cats:length = 2", ["Apple pie", "apple juice"]),
    ("sdk_filter_reviews_via_item.stars ?> 4", ["Apple pie"]),
    ("sdk_filter_reviews_via_item.stars > 2", ["Apple pie"]),
    ("meta.rank >= 2", ["Banana", "Cherry tart"]),
    ("due = ''", ["Cherry tart"]),
    ("due > '2024-03-01 00:00:00.000Z'", ["Banana", "apple juice"]),
    ("due < @now && due != ''", ["Apple pie", "Banana"]),
    ("due > @now", ["apple juice"]),
    ("created >= @todayStart", ["Apple pie", "Banana", "Cherry tart", "apple juice"]),
    ("strftime('%m', due) = '06'", ["Banana"]),
]


def test_filter_operators_and_modifiers(
    server: LiveServer, sdk: SdkDriver, filter_rows: dict[str, str]
) -> None:
    steps = [
        step(expr, f"pb.collection('sdk_filter').getFullList({{filter: {_js(expr)}, sort: 'title',"
                   " fields: 'title'}).then(rows => rows.map(r => r.title).sort())")
        for expr, _ in FILTERS
    ]
    steps.append(step("placeholders", "pb.collection('sdk_filter').getFullList({filter: pb.filter("
                                      "'title ~ {:q} && qty >= {:min}', {q: 'apple', min: 5}), fields: 'title'})"))
    steps.append(step("sort and page", "pb.collection('sdk_filter').getList(2, 2, {sort: '-qty,title',"
                                       " fields: 'title,qty'})"))
    steps.append(step("skip total", "pb.collection('sdk_filter').getList(1, 2, {skipTotal: true})"
                                    ".then(r => [r.totalItems, r.totalPages, r.items.length])"))
    steps.append(step("bad filter", "pb.collection('sdk_filter').getList(1, 5, {filter: 'nosuch = 1'})"))
    steps.append(step("bad sort", "pb.collection('sdk_filter').getList(1, 5, {sort: 'nosuch'})"))
    steps.append(step("not found", "pb.collection('sdk_filter').getFirstListItem('qty = 999')"))
    run = sdk.run(server.base_url, steps)
    failures = [
        f"{expr}: got {run[expr].raw.get('value', run[expr].raw)!r}, want {sorted(want)!r}"
        for expr, want in FILTERS
        if not run[expr].ok or run[expr].value != sorted(want)
    ]
    assert not failures, "\n".join(failures)
    assert [r["title"] for r in run["placeholders"].value] == ["apple juice"]
    page = run["sort and page"].value
    assert (page["page"], page["perPage"], page["totalItems"], page["totalPages"]) == (2, 2, 4, 2)
    assert page["items"] == [{"title": "Apple pie", "qty": 3}, {"title": "Cherry tart", "qty": 0}]
    assert run["skip total"].value == [-1, -1, 2]
    assert run["bad filter"].status == 400
    assert run["bad sort"].status == 400
    assert run["not found"].status == 404


def test_expand_and_fields(server: LiveServer, sdk: SdkDriver, filter_rows: dict[str, str]) -> None:
    apple = filter_rows["Apple pie"]
    run = sdk.run(server.base_url, [
        step("expand", f"pb.collection('sdk_filter').getOne({_js(apple)}, {{expand: 'cat,cats'}})"),
        step("back relation", f"pb.collection('sdk_filter').getOne({_js(apple)},"
                              " {expand: 'sdk_filter_reviews_via_item', fields: 'title,expand.sdk_filter_reviews_via_item.stars'})"),
        step("nested", "pb.collection('sdk_filter_reviews').getFullList({expand: 'item.cat', sort: 'stars',"
                       " fields: 'stars,expand.item.title,expand.item.expand.cat.name'})"),
        step("fields", f"pb.collection('sdk_filter').getOne({_js(apple)}, {{fields: 'id,title,qty'}})"),
        step("excerpt", "pb.collection('sdk_items').create({title: 'Long', notes: '<p>Some <b>bold</b> words here</p>'},"
                        " {fields: 'notes:excerpt(9,true)'})"),
        step("star", f"pb.collection('sdk_filter').getOne({_js(apple)}, {{fields: '*,expand.cat.name', expand: 'cat'}})"),
        step("no expand match", f"pb.collection('sdk_filter').getOne({_js(filter_rows['Cherry tart'])}, {{expand: 'cat'}})"),
    ])
    expanded = run["expand"].value["expand"]
    assert expanded["cat"]["name"] == "alpha"
    assert [c["name"] for c in expanded["cats"]] == ["alpha", "beta"]
    assert run["back relation"].value == {
        "title": "Apple pie",
        "expand": {"sdk_filter_reviews_via_item": [{"stars": 5}, {"stars": 3}]},
    }
    assert run["nested"].value == [
        {"stars": 1, "expand": {"item": {"title": "Banana", "expand": {"cat": {"name": "beta"}}}}},
        {"stars": 3, "expand": {"item": {"title": "Apple pie", "expand": {"cat": {"name": "alpha"}}}}},
        {"stars": 5, "expand": {"item": {"title": "Apple pie", "expand": {"cat": {"name": "alpha"}}}}},
    ]
    assert run["fields"].value == {"id": apple, "title": "Apple pie", "qty": 3}
    assert run["excerpt"].value == {"notes": "Some bold..."}
    star = run["star"].value
    assert star["title"] == "Apple pie" and star["expand"] == {"cat": {"name": "alpha"}}
    assert "collectionId" in star and "meta" in star
    assert run["no expand match"].value["expand"] == {}
