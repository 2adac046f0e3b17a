"""Full-text search on every database: the option, index upkeep by every write path, rules, ranking."""

from __future__ import annotations

from typing import Any

from roost.testing import login_as
from tests.conftest import Api

POSTS = "/api/collections/posts/records"
ALICE = login_as("users", "alice@example.com", "password123")
OWNER_RULE = "owner = @request.auth.id"
FIELDS = [
    {"name": "title", "type": "text"},
    {"name": "body", "type": "editor"},
    {"name": "note", "type": "text", "hidden": True},
    {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
]


async def _posts(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"name": "posts", "listRule": OWNER_RULE, "search": {"fields": ["title", "body"]}, "fields": FIELDS, **extra}
    res = await api.su("POST", "/api/collections", json=body)
    assert res.status_code == 200, res.text
    out: dict[str, Any] = res.json()
    return out


async def _user(api: Api, name: str) -> str:
    body = {"email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123"}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return str(res.json()["id"])


async def _create(api: Api, **body: Any) -> str:
    res = await api.su("POST", POSTS, json=body)
    assert res.status_code == 200, res.text
    return str(res.json()["id"])


async def _titles(api: Api, search: str, token: str | None = None, **params: str) -> list[str]:
    res = await api.call("GET", POSTS, params={"search": search, **params}, token=token or api.su_token)
    assert res.status_code == 200, res.text
    return [item["title"] for item in res.json()["items"]]


async def test_search_matches_word_prefixes_case_insensitively_and_ranks(api: Api) -> None:
    coll = await _posts(api)
    assert coll["search"] == {"fields": ["title", "body"]}
    await _create(api, title="Hello World", body="<p>the quick brown fox</p>")
    await _create(api, title="Foxes", body="fox fox fox jumps over fox")
    await _create(api, title="Other", body="nothing here")
    assert await _titles(api, "fox") == ["Foxes", "Hello World"]  # more matches rank first
    assert await _titles(api, "FOX Jump") == ["Foxes"]  # every word must match
    assert await _titles(api, "wor qui") == ["Hello World"]  # prefixes, across fields
    assert await _titles(api, "zebra") == []
    assert await _titles(api, "fox", sort="title") == ["Foxes", "Hello World"]
    assert await _titles(api, "fox", sort="-title") == ["Hello World", "Foxes"]
    res = await api.su("GET", POSTS, params={"search": "fox", "filter": "title != 'Foxes'"})
    assert [i["title"] for i in res.json()["items"]] == ["Hello World"]
    assert res.json()["totalItems"] == 1


async def test_the_index_follows_every_write_path(api: Api) -> None:
    await _posts(api)
    first = await _create(api, title="alpha", body="apple")
    second = await _create(api, title="beta", body="banana")
    assert await _titles(api, "apple") == ["alpha"]
    assert (await api.su("PATCH", f"{POSTS}/{first}", json={"body": "cherry"})).status_code == 200
    assert await _titles(api, "apple") == []
    assert await _titles(api, "cherry") == ["alpha"]
    assert (await api.su("DELETE", f"{POSTS}/{second}")).status_code == 204
    assert await _titles(api, "banana") == []
    batch = {"requests": [
        {"method": "POST", "url": POSTS, "body": {"title": "gamma", "body": "durian"}},
        {"method": "PATCH", "url": f"{POSTS}/{first}", "body": {"title": "alpha2", "body": "elderberry"}},
    ]}  # fmt: skip
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    res = await api.su("POST", "/api/batch", json=batch)
    assert res.status_code == 200, res.text
    assert await _titles(api, "durian") == ["gamma"]
    assert await _titles(api, "elderberry") == ["alpha2"]
    assert await _titles(api, "cherry") == []


async def test_rules_still_apply(api: Api) -> None:
    alice, bob = await _user(api, "alice"), await _user(api, "bob")
    await _posts(api)
    await _create(api, title="mine", body="shared word", owner=alice)
    await _create(api, title="theirs", body="shared word", owner=bob)
    token = await ALICE(api)
    assert await _titles(api, "shared", token=token) == ["mine"]
    res = await api.call("GET", POSTS, params={"search": "shared"})
    assert res.status_code == 200 and res.json()["items"] == []


async def test_hidden_fields_cannot_be_indexed(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "posts", "search": {"fields": ["title", "note"]}, "fields": FIELDS})
    assert res.status_code == 400, res.text
    assert res.json()["data"]["search"]["fields"]["1"]["code"] == "validation_invalid_search_field"


async def test_bad_options_and_parameters(api: Api) -> None:
    for option in ({"fields": "title"}, {"fields": ["nope"]}, {"other": 1}, ["title"], {"fields": ["title", "title"]}):
        res = await api.su("POST", "/api/collections", json={"name": "posts", "search": option, "fields": FIELDS})
        assert res.status_code == 400, (option, res.text)
        assert "search" in res.json()["data"]
    await _posts(api)
    res = await api.su("GET", POSTS, params={"search": "  !!! "})
    assert res.status_code == 400
    assert res.json()["data"]["search"]["code"] == "validation_invalid_search"
    res = await api.su("GET", "/api/collections/users/records", params={"search": "x"})
    assert res.status_code == 400
    assert res.json()["data"]["search"]["message"] == "This collection has no search index."


async def test_without_the_option_the_collection_json_is_unchanged(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "plain", "fields": FIELDS})
    assert res.status_code == 200
    assert "search" not in res.json()
    coll = await _posts(api)
    res = await api.su("PATCH", f"/api/collections/{coll['id']}", json={"search": {"fields": []}})
    assert res.status_code == 200, res.text
    assert "search" not in res.json()
    assert "search" not in (await api.su("GET", f"/api/collections/{coll['id']}")).json()
    assert (await api.su("GET", POSTS, params={"search": "x"})).status_code == 400


async def test_changing_the_option_rebuilds_the_index(api: Api) -> None:
    coll = await _posts(api)
    await _create(api, title="kiwi", body="lemon")
    await _create(api, title="mango", body="kiwi")
    assert sorted(await _titles(api, "kiwi")) == ["kiwi", "mango"]
    res = await api.su("PATCH", f"/api/collections/{coll['id']}", json={"search": {"fields": ["title"]}})
    assert res.status_code == 200, res.text
    assert await _titles(api, "kiwi") == ["kiwi"]
    assert await _titles(api, "lemon") == []
    fields = [{**f, "name": "headline"} if f["name"] == "title" else f for f in res.json()["fields"]]
    res = await api.su("PATCH", f"/api/collections/{coll['id']}", json={"fields": fields, "search": {"fields": ["headline"]}})
    assert res.status_code == 200, res.text
    res = await api.su("GET", POSTS, params={"search": "mango"})
    assert [i["headline"] for i in res.json()["items"]] == ["mango"]
    res = await api.su("PATCH", f"/api/collections/{coll['id']}", json={"name": "articles"})
    assert res.status_code == 200, res.text
    res = await api.su("POST", "/api/collections/articles/records", json={"headline": "papaya"})
    assert res.status_code == 200
    res = await api.su("GET", "/api/collections/articles/records", params={"search": "papaya"})
    assert [i["headline"] for i in res.json()["items"]] == ["papaya"]
    assert (await api.su("DELETE", "/api/collections/articles")).status_code == 204
    await _posts(api)  # the same id again: no index object was left behind
    await _create(api, title="fresh", body="")
    assert await _titles(api, "kiwi") == []


async def test_keyset_pages_and_graphql_take_the_search_too(api: Api) -> None:
    await _posts(api)
    for n in range(5):
        await _create(api, title=f"match n{n}ab", body="")
    await _create(api, title="other", body="")
    res = await api.su("GET", POSTS, params={"search": "match", "cursor": "", "perPage": 3, "sort": "title"})
    first = res.json()
    res = await api.su("GET", POSTS, params={"search": "match", "cursor": first["nextCursor"], "perPage": 3, "sort": "title"})
    titles = [i["title"] for i in first["items"] + res.json()["items"]]
    assert titles == [f"match n{n}ab" for n in range(5)]
    res = await api.su("POST", "/api/graphql", json={"query": '{ postsList(search: "MATCH N3AB") { items { title } totalItems } }'})
    assert res.status_code == 200, res.text
    assert res.json()["data"]["postsList"] == {"items": [{"title": "match n3ab"}], "totalItems": 1}


async def test_a_backup_restores_the_index(api: Api) -> None:
    await _posts(api)
    await _create(api, title="restored", body="quince")
    await api.app.backups.create("search.zip")
    await _create(api, title="later", body="quince")
    await api.app.backups.restore("search.zip")
    assert await _titles(api, "quince") == ["restored"]
    await _create(api, title="after", body="quince")
    assert sorted(await _titles(api, "quince")) == ["after", "restored"]
