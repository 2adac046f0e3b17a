"""Response cache scenarios: hits, exact invalidation by dependency, caller contexts, HTTP caching.

A write made behind Roost's back (plain SQL, no record event) shows whether a read was served
from the cache: a cached read keeps the old value, a fresh one sees the new value.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cache_services import REDIS_URL, redis_reachable, running_memcached
from tests.conftest import Api, skip_or_fail

PUBLIC = {"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}


@pytest.fixture(scope="module")
def memcached_url() -> Iterator[str]:
    with running_memcached() as url:
        yield url


@pytest.fixture(params=["memory", "redis", "memcached"])
async def capi(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """A Roost on SQLite with the response cache on, a superuser and two users."""
    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    if request.param == "redis" and (reason := await redis_reachable()):
        skip_or_fail(reason)
    url = {"memory": "memory://", "redis": REDIS_URL}.get(request.param) or request.getfixturevalue("memcached_url")
    app = App(Config(data_dir=tmp_path, cache_url=url))
    await app.bootstrap()
    await manage_superuser(app, "upsert", "su@example.com", "password123")
    transport = httpx.ASGITransport(app=build_asgi(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
        api = Api(client, app)
        api.su_token = await api.login("_superusers", "su@example.com", "password123")
        yield api
    await app.close()


async def _collection(api: Api, name: str, fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    res = await api.su("POST", "/api/collections", json={"name": name, **PUBLIC, "fields": fields, **extra})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


async def _create(api: Api, coll: str, body: dict[str, Any]) -> dict[str, Any]:
    res = await api.su("POST", f"/api/collections/{coll}/records", json=body)
    assert res.status_code == 200, res.text
    record: dict[str, Any] = res.json()
    return record


async def _behind_the_back(api: Api, table: str, record_id: str, column: str, value: Any) -> None:
    async with api.app.db.transaction() as conn:
        await conn.execute(f'UPDATE "{table}" SET "{column}" = :v WHERE "id" = :id', {"v": value, "id": record_id})


async def _get(api: Api, url: str, token: str | None = None) -> Any:
    res = await api.call("GET", url, token=token)
    assert res.status_code == 200, res.text
    return res.json()


@pytest.fixture
async def blog(capi: Api) -> dict[str, Any]:
    authors = await _collection(capi, "authors", [{"name": "name", "type": "text"}])
    posts = await _collection(capi, "posts", [
        {"name": "title", "type": "text"},
        {"name": "author", "type": "relation", "collectionId": authors["id"], "maxSelect": 1, "cascadeDelete": True},
    ])  # fmt: skip
    ann = await _create(capi, "authors", {"name": "Ann"})
    bob = await _create(capi, "authors", {"name": "Bob"})
    p1 = await _create(capi, "posts", {"title": "one", "author": ann["id"]})
    p2 = await _create(capi, "posts", {"title": "two", "author": bob["id"]})
    return {"authors": authors, "posts": posts, "ann": ann, "bob": bob, "p1": p1, "p2": p2}


async def test_reads_are_served_from_the_cache_until_a_write(capi: Api, blog: dict[str, Any]) -> None:
    url = "/api/collections/posts/records?sort=title"
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["one", "two"]
    await _behind_the_back(capi, "posts", blog["p1"]["id"], "title", "sneaky")
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["one", "two"]  # served from cache
    view = f"/api/collections/posts/records/{blog['p2']['id']}"
    assert (await _get(capi, view))["title"] == "two"
    res = await capi.call("PATCH", view, json={"title": "TWO"})
    assert res.status_code == 200
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["TWO", "sneaky"]
    assert (await _get(capi, view))["title"] == "TWO"


async def test_create_and_delete_invalidate_lists(capi: Api, blog: dict[str, Any]) -> None:
    url = "/api/collections/posts/records"
    assert (await _get(capi, url))["totalItems"] == 2
    created = await _create(capi, "posts", {"title": "three"})
    assert (await _get(capi, url))["totalItems"] == 3
    assert (await capi.call("DELETE", f"{url}/{created['id']}")).status_code == 204
    assert (await _get(capi, url))["totalItems"] == 2
    assert (await capi.call("GET", f"{url}/{created['id']}")).status_code == 404


async def test_writes_retire_only_entries_that_depend_on_them(capi: Api, blog: dict[str, Any]) -> None:
    plain = "/api/collections/posts/records?sort=title"
    expanded = plain + "&expand=author"
    filtered = "/api/collections/posts/records?filter=" + httpx.QueryParams({"f": 'author.name = "Ann"'})["f"]
    for url in (plain, expanded, filtered):
        await _get(capi, url)
    await _behind_the_back(capi, "posts", blog["p1"]["id"], "title", "sneaky")
    res = await capi.call("PATCH", f"/api/collections/authors/records/{blog['ann']['id']}", json={"name": "Anna"})
    assert res.status_code == 200
    assert [r["title"] for r in (await _get(capi, plain))["items"]] == ["one", "two"]  # posts-only entry kept
    items = (await _get(capi, expanded))["items"]
    assert [r["title"] for r in items] == ["sneaky", "two"]
    assert items[0]["expand"]["author"]["name"] == "Anna"
    assert (await _get(capi, filtered))["items"] == []


async def test_back_relations_depend_on_the_referencing_collection(capi: Api, blog: dict[str, Any]) -> None:
    url = f"/api/collections/authors/records/{blog['ann']['id']}?expand=posts_via_author"
    assert [p["title"] for p in (await _get(capi, url))["expand"]["posts_via_author"]] == ["one"]
    await _create(capi, "posts", {"title": "more", "author": blog["ann"]["id"]})
    assert [p["title"] for p in (await _get(capi, url))["expand"]["posts_via_author"]] == ["one", "more"]


async def test_cascades_and_truncate_invalidate(capi: Api, blog: dict[str, Any]) -> None:
    url = "/api/collections/posts/records?sort=title"
    assert len((await _get(capi, url))["items"]) == 2
    res = await capi.su("DELETE", f"/api/collections/authors/records/{blog['ann']['id']}")
    assert res.status_code == 204
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["two"]
    assert (await capi.su("DELETE", "/api/collections/authors/truncate")).status_code == 204
    assert (await _get(capi, url))["items"] == []


async def test_detached_relations_invalidate_the_referencing_collection(capi: Api) -> None:
    tags = await _collection(capi, "tags", [{"name": "label", "type": "text"}])
    await _collection(capi, "notes", [
        {"name": "tags", "type": "relation", "collectionId": tags["id"], "maxSelect": 5},
    ])  # fmt: skip
    a, b = await _create(capi, "tags", {"label": "a"}), await _create(capi, "tags", {"label": "b"})
    note = await _create(capi, "notes", {"tags": [a["id"], b["id"]]})
    url = f"/api/collections/notes/records/{note['id']}"
    assert (await _get(capi, url))["tags"] == [a["id"], b["id"]]
    assert (await capi.call("DELETE", f"/api/collections/tags/records/{a['id']}")).status_code == 204
    assert (await _get(capi, url))["tags"] == [b["id"]]


async def test_batch_writes_invalidate(capi: Api, blog: dict[str, Any]) -> None:
    res = await capi.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}})
    assert res.status_code == 200, res.text
    url = "/api/collections/posts/records"
    assert (await _get(capi, url))["totalItems"] == 2
    res = await capi.call("POST", "/api/batch", json={"requests": [
        {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "b1"}},
        {"method": "DELETE", "url": f"/api/collections/posts/records/{blog['p1']['id']}"},
    ]})  # fmt: skip
    assert res.status_code == 200, res.text
    assert sorted(r["title"] for r in (await _get(capi, url))["items"]) == ["b1", "two"]


async def _users(capi: Api) -> tuple[dict[str, Any], str, dict[str, Any], str]:
    res = await capi.su("PATCH", "/api/collections/users", json={"listRule": "", "viewRule": ""})
    assert res.status_code == 200, res.text
    out: list[Any] = []
    for name in ("ann", "bob"):
        user = await _create(capi, "users", {"email": f"{name}@example.com", "password": "password123",
                                             "passwordConfirm": "password123", "name": name})  # fmt: skip
        out += [user, await capi.login("users", f"{name}@example.com", "password123")]
    return out[0], out[1], out[2], out[3]


async def test_rules_reading_the_caller_are_keyed_by_the_caller(capi: Api) -> None:
    ann, ann_token, bob, bob_token = await _users(capi)
    users = (await capi.su("GET", "/api/collections/users")).json()
    await _collection(capi, "todos", [
        {"name": "title", "type": "text"},
        {"name": "owner", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
    ], listRule="owner = @request.auth.id", viewRule="owner = @request.auth.id")  # fmt: skip
    mine = await _create(capi, "todos", {"title": "ann's", "owner": ann["id"]})
    await _create(capi, "todos", {"title": "bob's", "owner": bob["id"]})
    url = "/api/collections/todos/records"
    for _ in range(2):
        assert (await _get(capi, url))["items"] == []
        assert [t["title"] for t in (await _get(capi, url, ann_token))["items"]] == ["ann's"]
        assert [t["title"] for t in (await _get(capi, url, bob_token))["items"]] == ["bob's"]
    assert (await capi.call("GET", f"{url}/{mine['id']}", token=bob_token)).status_code == 404
    assert (await _get(capi, f"{url}/{mine['id']}", ann_token))["title"] == "ann's"
    assert (await capi.call("GET", f"{url}/{mine['id']}", token=bob_token)).status_code == 404


async def test_email_visibility_is_per_caller(capi: Api) -> None:
    ann, ann_token, _, bob_token = await _users(capi)
    url = f"/api/collections/users/records/{ann['id']}"
    for _ in range(2):
        assert (await _get(capi, url, ann_token))["email"] == "ann@example.com"
        assert "email" not in await _get(capi, url, bob_token)
        assert "email" not in await _get(capi, url)


async def test_volatile_reads_are_not_cached(capi: Api, blog: dict[str, Any]) -> None:
    await capi.su("PATCH", "/api/collections/authors", json={"listRule": '@request.query.x = "1" || name != ""'})
    q = httpx.QueryParams({"filter": 'title != @now', "sort": "title"})
    for url in ("/api/collections/authors/records?sort=name&x=1", f"/api/collections/posts/records?{q}",
                "/api/collections/posts/records?sort=@random"):  # fmt: skip
        await _get(capi, url)
    await _behind_the_back(capi, "authors", blog["ann"]["id"], "name", "Zed")
    await _behind_the_back(capi, "posts", blog["p1"]["id"], "title", "zzz")
    assert [a["name"] for a in (await _get(capi, "/api/collections/authors/records?sort=name&x=1"))["items"]] == ["Bob", "Zed"]
    assert [p["title"] for p in (await _get(capi, f"/api/collections/posts/records?{q}"))["items"]] == ["two", "zzz"]


async def test_superuser_reads_are_not_cached(capi: Api, blog: dict[str, Any]) -> None:
    url = f"/api/collections/posts/records/{blog['p1']['id']}"
    assert (await capi.su("GET", url)).json()["title"] == "one"
    await _behind_the_back(capi, "posts", blog["p1"]["id"], "title", "sneaky")
    assert (await capi.su("GET", url)).json()["title"] == "sneaky"


async def test_rule_changes_apply_at_once(capi: Api, blog: dict[str, Any]) -> None:
    url = "/api/collections/posts/records"
    assert (await _get(capi, url))["totalItems"] == 2
    res = await capi.su("PATCH", "/api/collections/posts", json={"listRule": 'title = "one"'})
    assert res.status_code == 200
    assert (await _get(capi, url))["totalItems"] == 1
    await capi.su("PATCH", "/api/collections/posts", json={"listRule": None})
    assert (await capi.call("GET", url)).status_code == 403


async def test_relation_target_rules_are_dependencies(capi: Api, blog: dict[str, Any]) -> None:
    url = "/api/collections/posts/records?filter=" + httpx.QueryParams({"f": 'author.name != ""'})["f"]
    assert (await _get(capi, url))["totalItems"] == 2
    await capi.su("PATCH", "/api/collections/authors", json={"listRule": 'name = "Ann"'})
    assert (await _get(capi, url))["totalItems"] == 1


async def test_view_collections_depend_on_their_sources(capi: Api, blog: dict[str, Any]) -> None:
    res = await capi.su("POST", "/api/collections", json={
        "name": "post_titles", "type": "view", "listRule": "", "viewRule": "",
        "viewQuery": "SELECT p.id, p.title FROM posts p",
    })  # fmt: skip
    assert res.status_code == 200, res.text
    url = "/api/collections/post_titles/records?sort=title"
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["one", "two"]
    await _create(capi, "posts", {"title": "three"})
    assert [r["title"] for r in (await _get(capi, url))["items"]] == ["one", "three", "two"]


async def test_fields_and_pages_are_part_of_the_key(capi: Api, blog: dict[str, Any]) -> None:
    base = "/api/collections/posts/records?sort=title&perPage=1"
    assert [r["title"] for r in (await _get(capi, base))["items"]] == ["one"]
    assert [r["title"] for r in (await _get(capi, base + "&page=2"))["items"]] == ["two"]
    assert (await _get(capi, base + "&fields=title"))["items"] == [{"title": "one"}]
    assert (await _get(capi, base + "&skipTotal=1"))["totalItems"] == -1


# ----- HTTP caching -------------------------------------------------------------------------------
async def test_etag_and_conditional_requests(capi: Api, blog: dict[str, Any]) -> None:
    url = f"/api/collections/posts/records/{blog['p1']['id']}"
    first = await capi.call("GET", url)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "no-cache"
    assert "Authorization" in first.headers["vary"]
    again = await capi.call("GET", url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await capi.call("GET", url, headers={"If-None-Match": '"other", ' + etag})).status_code == 304
    await capi.call("PATCH", url, json={"title": "changed"})
    changed = await capi.call("GET", url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    listing = await capi.call("GET", "/api/collections/posts/records")
    assert (await capi.call("GET", "/api/collections/posts/records", headers={"If-None-Match": listing.headers["etag"]})).status_code == 304


async def test_cache_control_by_caller(capi: Api, blog: dict[str, Any]) -> None:
    _, token, _, _ = await _users(capi)
    url = "/api/collections/posts/records"
    assert (await capi.call("GET", url, token=token)).headers["cache-control"] == "private, no-cache"
    assert (await capi.su("GET", url)).headers["cache-control"] == "private, no-store"
    assert "etag" not in (await capi.call("GET", "/api/collections/nope/records")).headers


async def test_large_bodies_are_compressed_when_accepted(capi: Api) -> None:
    await _collection(capi, "docs", [{"name": "text", "type": "text", "max": 5000}])
    for n in range(5):
        await _create(capi, "docs", {"text": f"{n} " + "lorem ipsum " * 100})
    url = "/api/collections/docs/records"
    plain = await capi.call("GET", url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    request = capi.client.build_request("GET", url, headers={"Accept-Encoding": "gzip"})
    raw_gzip = await capi.client.send(request, stream=True)
    compressed = b"".join([chunk async for chunk in raw_gzip.aiter_raw()])
    assert raw_gzip.headers["content-encoding"] == "gzip"
    assert len(plain.content) > 1024 and len(compressed) < len(plain.content) // 3
    assert gzip.decompress(compressed) == plain.content
    br = await capi.call("GET", url, headers={"Accept-Encoding": "gzip;q=0.5, br"})
    assert br.headers["content-encoding"] == "br" and br.json() == plain.json()
    small = await capi.call("GET", url + "?perPage=1&fields=id", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_cursor_pages_are_cached_per_cursor(capi: Api) -> None:
    await _collection(capi, "pages", [{"name": "n", "type": "number"}])
    for n in range(5):
        await _create(capi, "pages", {"n": n})
    url = "/api/collections/pages/records?sort=n&perPage=2&cursor="
    seen = []
    cursor = ""
    for _ in range(3):  # twice each: the second read is a cache hit and still the right page
        first, again = await _get(capi, url + cursor), await _get(capi, url + cursor)
        assert first == again
        seen += [item["n"] for item in first["items"]]
        cursor = first["nextCursor"] or ""
    assert seen == [0, 1, 2, 3, 4] and cursor == ""
