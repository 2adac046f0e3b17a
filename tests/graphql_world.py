"""A small world of collections, users and rules for the GraphQL tests, and the REST <-> GraphQL
comparison: a GraphQL answer must hold exactly the records and fields REST returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from roost.core.records.expand import parse_expand
from tests.conftest import Api

PASSWORD = "password123"
OWN_OR_PUBLIC = "public = true || author = @request.auth.id"


@dataclass
class World:
    """Record ids by label, and each caller's token (None: a guest)."""

    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str | None] = field(default_factory=dict)
    #: collection name -> its fields as the collections API returns them
    fields: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # collection id -> name


async def seed(api: Api) -> World:
    world = World()
    for label, name, visible in (("owner", "Owner", False), ("other", "Other", True)):
        user = await api.create_record("users", {
            "email": f"{label}@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD,
            "name": name, "emailVisibility": visible,
        })  # fmt: skip
        world.ids[label] = user["id"]
    # anyone may list users, so an address hidden by ``emailVisibility`` is hidden at the top level too
    res = await api.su("PATCH", "/api/collections/users", json={"listRule": "", "viewRule": ""})
    assert res.status_code == 200, res.text
    users = res.json()["id"]
    posts = await api.create_collection({
        "name": "posts", "listRule": OWN_OR_PUBLIC, "viewRule": OWN_OR_PUBLIC,
        "createRule": '@request.auth.id != ""', "updateRule": "author = @request.auth.id",
        "deleteRule": "author = @request.auth.id",
        "fields": [
            {"name": "title", "type": "text", "required": True}, {"name": "n", "type": "number"},
            {"name": "public", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "meta", "type": "json"}, {"name": "loc", "type": "geoPoint"},
            {"name": "secret", "type": "text", "hidden": True},
            {"name": "author", "type": "relation", "collectionId": users, "maxSelect": 1},
            {"name": "editors", "type": "relation", "collectionId": users, "maxSelect": 5},
            {"name": "created", "type": "autodate", "onCreate": True},
        ],
    })  # fmt: skip
    await api.create_collection({
        "name": "comments", "listRule": "", "viewRule": "", "fields": [
            {"name": "body", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1},
            {"name": "by", "type": "relation", "collectionId": users, "maxSelect": 1},
        ],
    })  # fmt: skip
    await api.create_collection({"name": "vault", "fields": [{"name": "note", "type": "text"}]})
    rows = [("p1", 1, True, ["a"], "owner"), ("p2", 2, False, ["a", "b"], "owner"), ("p3", 3, True, [], "other"),
            ("p4", 4, False, ["c"], "other"), ("p5", 5, True, ["b", "c"], "owner"), ("p6", 6, False, [], "")]  # fmt: skip
    for label, n, public, tags, author in rows:
        post = await api.create_record("posts", {
            "title": f"post {label}", "n": n, "public": public, "tags": tags, "meta": {"n": n, "x": [1, "y"]},
            "loc": {"lon": n, "lat": -n}, "secret": f"s{n}", "author": world.ids.get(author, ""),
            "editors": [world.ids["owner"], world.ids["other"]] if n % 2 else [world.ids["other"]],
        })  # fmt: skip
        world.ids[label] = post["id"]
    for i, (post, by) in enumerate((("p1", "owner"), ("p1", "other"), ("p2", "other"), ("p3", "owner"))):
        comment = await api.create_record("comments", {"body": f"c{i}", "post": world.ids[post], "by": world.ids[by]})
        world.ids[f"c{i}"] = comment["id"]
    world.ids["v1"] = (await api.create_record("vault", {"note": "hush"}))["id"]
    await _read_collections(api, world)
    world.tokens = {
        "guest": None, "superuser": api.su_token,
        "owner": await api.login("users", "owner@example.com", PASSWORD),
        "other": await api.login("users", "other@example.com", PASSWORD),
    }
    return world


async def _read_collections(api: Api, world: World) -> None:
    for coll in (await api.su("GET", "/api/collections", params={"perPage": 500})).json()["items"]:
        world.fields[coll["name"]] = coll["fields"]
        world.names[coll["id"]] = coll["name"]


async def add_views(api: Api, world: World) -> None:
    """Two view collections over the world: public posts for anyone, comments for superusers."""
    await api.create_collection({"name": "post_stats", "type": "view", "listRule": "", "viewRule": "",
                                 "viewQuery": "SELECT p.id, p.title, p.n, p.author FROM posts p WHERE p.public = true"})  # fmt: skip
    await api.create_collection({"name": "comment_rows", "type": "view",
                                 "viewQuery": "SELECT c.id, c.body, c.post FROM comments c"})  # fmt: skip
    await _read_collections(api, world)


@dataclass(frozen=True)
class Op:
    """One read, as REST parameters; the GraphQL query is derived from it."""

    collection: str
    params: dict[str, Any] = field(default_factory=dict)
    #: a label of ``World.ids`` (or a literal id) for a view; None for a list
    record: str | None = None


OPS = [
    Op("posts"), Op("posts", {"filter": "n > 2"}), Op("posts", {"sort": "-n"}),
    Op("posts", {"sort": "n", "page": 2, "perPage": 2}), Op("posts", {"sort": "n", "skipTotal": True}),
    Op("posts", {"sort": "n", "expand": "author"}),
    Op("posts", {"sort": "n", "expand": "author,editors,comments_via_post"}),
    Op("posts", {"filter": "author.name = 'Owner'"}), Op("posts", {"filter": "n >"}),
    Op("posts", {"filter": "tags ?= 'a'", "sort": "-n"}), Op("posts", {"sort": "author.name,n"}),
    Op("posts", {"filter": "@request.auth.id != ''"}), Op("posts", {"filter": "secret = 's1'"}),
    Op("posts", {"perPage": 1, "page": 3, "sort": "-created"}),
    Op("comments", {"sort": "body", "expand": "post.author,by"}),
    Op("comments", {"expand": "post", "filter": "post.public = true", "sort": "body"}),
    Op("users", {"sort": "name"}), Op("users", {"filter": "email = 'owner@example.com'"}),
    Op("users", {"sort": "name", "expand": "posts_via_author"}), Op("vault"),
    Op("posts", record="p1"), Op("posts", {"expand": "author,editors"}, record="p2"), Op("posts", record="nope"),
    Op("users", record="owner"), Op("users", record="other"),
    Op("comments", {"expand": "post.author,by"}, record="c0"), Op("vault", record="v1"),
]  # fmt: skip


#: more reads for the differential (with :func:`add_views`): filters, sorts, pages, expand
#: depths, hidden fields, back-relations, view collections, rule-denied and invalid requests
MORE_OPS = [
    Op("posts", {"filter": "n >= 2 && n <= 4", "sort": "n"}), Op("posts", {"filter": "title ~ 'p1'"}),
    Op("posts", {"filter": "title !~ 'p'"}), Op("posts", {"filter": "public = false", "sort": "n"}),
    Op("posts", {"filter": "tags:length > 1", "sort": "n"}), Op("posts", {"filter": "editors ?= @request.auth.id", "sort": "n"}),
    Op("posts", {"filter": "editors.name ?= 'Other'", "sort": "n"}), Op("posts", {"filter": "meta.n > 3", "sort": "n"}),
    Op("posts", {"filter": "created > '2000-01-01 00:00:00'", "sort": "n"}), Op("posts", {"filter": "author = ''"}),
    Op("posts", {"filter": "author.email = 'owner@example.com'", "sort": "n"}),
    Op("posts", {"filter": "comments_via_post.body ?= 'c0'"}), Op("posts", {"filter": "@request.auth.name = 'Owner'", "sort": "n"}),
    Op("posts", {"sort": "-title"}), Op("posts", {"sort": "public,-n"}), Op("posts", {"sort": "-author.name,title"}),
    Op("posts", {"sort": "n", "page": 3, "perPage": 2}), Op("posts", {"sort": "n", "perPage": 500}),
    Op("posts", {"sort": "n", "page": 99}), Op("posts", {"sort": "n", "expand": "author,editors"}),
    Op("posts", {"sort": "n", "expand": "comments_via_post.by"}), Op("posts", {"sort": "n", "expand": "editors.posts_via_author"}),
    Op("posts", {"sort": "n", "expand": "author.posts_via_author.comments_via_post"}),
    Op("posts", {"filter": "secret != ''", "sort": "n"}), Op("posts", {"filter": "(n > 1"}),
    Op("posts", {"filter": "unknownField = 1"}), Op("posts", {"sort": "unknownField"}),
    Op("posts", {"filter": "n > 1", "skipTotal": True, "sort": "-n"}), Op("posts", {"filter": "n > 2", "perPage": 1, "page": 2, "sort": "n"}),
    Op("posts", {"filter": "editors:length = 2 && public = true", "sort": "n", "expand": "editors"}),
    Op("comments", {"sort": "body"}), Op("comments", {"filter": "by = @request.auth.id", "sort": "body"}),
    Op("comments", {"filter": "post.author = @request.auth.id", "expand": "post", "sort": "body"}),
    Op("comments", {"expand": "post.editors", "sort": "body"}), Op("comments", {"sort": "-post.n,body"}),
    Op("comments", {"filter": "post.secret = 's1'"}),
    Op("users", {"filter": "emailVisibility = true"}), Op("users", {"sort": "-email"}),
    Op("users", {"sort": "name", "expand": "posts_via_author.comments_via_post"}),
    Op("users", {"sort": "name", "expand": "posts_via_editors"}), Op("users", {"sort": "name", "expand": "comments_via_by.post"}),
    Op("users", {"filter": "name ~ 'O'", "sort": "name"}), Op("users", {"sort": "name", "perPage": 1}),
    Op("vault", {"filter": "note = 'hush'"}),
    Op("posts", record="p3"), Op("posts", record="p4"), Op("posts", {"expand": "comments_via_post"}, record="p6"),
    Op("posts", {"expand": "comments_via_post.by"}, record="p2"), Op("users", {"expand": "posts_via_author"}, record="owner"),
    Op("comments", {"expand": "post.editors"}, record="c3"), Op("vault", record="nope"), Op("comments", record="nope"),
    Op("users", record="nope"), Op("posts", {"expand": "author.posts_via_author"}, record="p5"),
    Op("post_stats", {"sort": "n"}), Op("post_stats", {"filter": "n > 2", "sort": "-n"}),
    Op("post_stats", {"sort": "title", "expand": "author"}), Op("post_stats", {"filter": "author.name = 'Other'"}),
    Op("post_stats", record="p1"), Op("post_stats", record="p2"), Op("post_stats", {"expand": "author"}, record="p5"),
    Op("comment_rows", {"sort": "body"}), Op("comment_rows", {"sort": "body", "expand": "post"}), Op("comment_rows", record="c1"),
]  # fmt: skip


def rest_url(op: Op, world: World) -> str:
    base = f"/api/collections/{op.collection}/records"
    return f"{base}/{world.ids.get(op.record, op.record)}" if op.record else base


def rest_params(op: Op) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in op.params.items()}


def graphql_query(op: Op, world: World) -> str:
    selection = _selection(world, op.collection, parse_expand(op.params.get("expand", "")))
    if op.record:
        return f"{{ r: {op.collection}(id: {json.dumps(world.ids.get(op.record, op.record))}) {selection} }}"
    args = ", ".join(f"{k}: {json.dumps(v)}" for k, v in op.params.items() if k != "expand")
    return f"{{ r: {op.collection}List{f'({args})' if args else ''} {{ page perPage totalItems totalPages items {selection} }} }}"


def _target(world: World, collection: str, key: str) -> str:
    for f in world.fields[collection]:
        if f["name"] == key:
            return world.names[f["collectionId"]]
    return key.partition("_via_")[0]


def _selection(world: World, collection: str, tree: dict[str, Any]) -> str:
    parts = ["collectionId", "collectionName"]
    for f in world.fields[collection]:
        if f["type"] != "password":
            parts.append(f["name"] + "Id" if f["type"] == "relation" else f["name"])
            if f["type"] == "geoPoint":
                parts[-1] += " { lon lat }"
    for key, sub in tree.items():
        parts.append(f"{key} {_selection(world, _target(world, collection, key), sub)}")
    return "{ " + " ".join(parts) + " }"


def assert_same(op: Op, world: World, rest: Any, status: int, answer: dict[str, Any]) -> None:
    """The GraphQL ``answer`` holds what the REST answer (``rest`` with ``status``) holds."""
    if status != 200:
        (error,) = answer["errors"]
        assert answer["data"] in (None, {"r": None}), answer
        assert error["extensions"]["status"] == status and error["message"] == rest["message"], (error, rest)
        assert error["extensions"]["data"] == rest["data"]
        return
    assert "errors" not in answer, answer
    got, tree = answer["data"]["r"], parse_expand(op.params.get("expand", ""))
    if op.record:
        _same_record(world, op.collection, tree, rest, got)
        return
    assert {k: got[k] for k in ("page", "perPage", "totalItems", "totalPages")} == {k: rest[k] for k in ("page", "perPage", "totalItems", "totalPages")}
    assert len(got["items"]) == len(rest["items"])
    for rest_item, got_item in zip(rest["items"], got["items"], strict=True):
        _same_record(world, op.collection, tree, rest_item, got_item)


def _same_record(world: World, collection: str, tree: dict[str, Any], rest: dict[str, Any], got: dict[str, Any]) -> None:
    known = {"collectionId", "collectionName", "expand"}
    for f in world.fields[collection]:
        name, kind = f["name"], f["type"]
        known.add(name)
        if kind == "password":
            assert name not in rest
        elif kind == "relation":
            assert got[name + "Id"] == rest.get(name), (name, got, rest)
        elif kind == "file":
            assert [urlsplit(u).path.rsplit("/", 1)[-1] for u in _listed(got[name])] == _listed(rest.get(name))
        elif name in got:
            assert got[name] == rest.get(name), (collection, name, got, rest)
    assert set(rest) <= known, set(rest) - known
    assert (got["collectionId"], got["collectionName"]) == (rest["collectionId"], rest["collectionName"])
    expanded = rest.get("expand") or {}
    for key, sub in tree.items():
        target = _target(world, collection, key)
        rest_related, got_related = _listed(expanded.get(key)), _listed(got[key])
        assert len(rest_related) == len(got_related), (key, rest_related, got_related)
        for r, g in zip(rest_related, got_related, strict=True):
            _same_record(world, target, sub, r, g)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


@dataclass(frozen=True)
class WriteOp:
    """One write, as a REST request; update and delete act on a fresh record made from ``base``
    (one for REST, an identical one for GraphQL). ``$<label>`` stands for ``World.ids[label]`` (``$owner``, ``$p1`` ...)."""

    collection: str
    action: str  # create | update | delete
    body: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    expand: str = ""


_OWNED = {"title": "base", "n": 1, "public": False, "tags": ["a"], "author": "$owner", "secret": "s"}
WRITE_OPS = [
    WriteOp("posts", "create", {"title": "w", "public": True}),
    WriteOp("posts", "create", {"n": 2}),
    WriteOp("posts", "create", {"title": "w", "author": "$other", "tags": ["b", "c"]}, expand="author"),
    WriteOp("posts", "create", {"title": "w", "tags": ["z"]}),
    WriteOp("posts", "create", {"title": "w", "secret": "hush", "meta": {"k": [1, 2]}, "loc": {"lon": 1.5, "lat": 2}}),
    WriteOp("posts", "update", {"title": "changed"}, _OWNED),
    WriteOp("posts", "update", {"title": "changed"}, {**_OWNED, "author": "$other"}),
    WriteOp("posts", "update", {"n+": 5, "tags+": "c", "tags-": "a"}, _OWNED),
    WriteOp("posts", "update", {"n": "not a number"}, _OWNED),
    WriteOp("posts", "update", {"editors+": "$other", "public": True}, _OWNED, expand="editors"),
    WriteOp("posts", "delete", {}, _OWNED),
    WriteOp("posts", "delete", {}, {**_OWNED, "author": "$other", "public": True}),
    WriteOp("comments", "create", {"body": "hi"}),
    WriteOp("vault", "update", {"note": "x"}, {"note": "n"}),
]  # fmt: skip
#: more writes for the differential: modifiers, relations, validation errors, refusals
MORE_WRITE_OPS = [
    WriteOp("posts", "create", {"title": "w", "author": "$owner", "secret": "x", "public": False}),
    WriteOp("posts", "create", {"title": "w", "editors": ["nope"]}),
    WriteOp("posts", "create", {"title": "w", "author": "nope"}),
    WriteOp("posts", "create", {"title": ""}),
    WriteOp("posts", "create", {"title": "w", "n": -1.5, "public": True, "meta": "just text"}),
    WriteOp("posts", "create", {"title": "w", "loc": {"lon": 500, "lat": 0}}),
    WriteOp("posts", "create", {"title": "w", "public": True, "unknown": 1, "tags": ["a", "a"]}),
    WriteOp("posts", "create", {"title": "w", "public": True, "editors": ["$owner", "$other"]}, expand="editors,author"),
    WriteOp("posts", "update", {"n-": 3}, _OWNED),
    WriteOp("posts", "update", {"+tags": "b"}, _OWNED),
    WriteOp("posts", "update", {"tags": []}, _OWNED),
    WriteOp("posts", "update", {"author": "$other", "public": True}, _OWNED, expand="author"),
    WriteOp("posts", "update", {"editors-": "$owner"}, {**_OWNED, "editors": ["$owner", "$other"]}, expand="editors"),
    WriteOp("posts", "update", {"title": ""}, _OWNED),
    WriteOp("posts", "update", {"secret": "new", "meta": {"deep": {"x": [True]}}}, _OWNED),
    WriteOp("posts", "update", {"title": "public now"}, {**_OWNED, "author": "", "public": True}),
    WriteOp("comments", "create", {"body": "x", "post": "$p1", "by": "$other"}, expand="post,by"),
    WriteOp("comments", "create", {"body": "x", "post": "nope"}),
    WriteOp("comments", "update", {"post": "$p3"}, {"body": "b", "post": "$p1"}, expand="post"),
    WriteOp("comments", "delete", {}, {"body": "b"}),
    WriteOp("vault", "create", {"note": "n"}),
    WriteOp("vault", "delete", {}, {"note": "n"}),
]  # fmt: skip


def fill(world: World, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: fill(world, v) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(world, v) for v in value]
    return world.ids[value[1:]] if isinstance(value, str) and value[1:] in world.ids and value[:1] == "$" else value


def graphql_write(op: WriteOp, world: World) -> str:
    name = op.collection[:1].upper() + op.collection[1:]
    if op.action == "delete":
        return f"mutation($id: String!) {{ r: delete{name}(id: $id) }}"
    selection = _selection(world, op.collection, parse_expand(op.expand))
    if op.action == "create":
        return f"mutation($d: JSON!) {{ r: create{name}(data: $d) {selection} }}"
    return f"mutation($id: String!, $d: JSON!) {{ r: update{name}(id: $id, data: $d) {selection} }}"


def assert_same_write(op: WriteOp, world: World, rest: Any, status: int, answer: dict[str, Any]) -> None:
    """The GraphQL write answered as the REST one did (ids and timestamps aside)."""
    if status not in (200, 204):
        (error,) = answer["errors"]
        assert answer["data"] == {"r": None}, answer
        assert error["extensions"]["status"] == status and error["message"] == rest["message"], (error, rest)
        assert error["extensions"]["data"] == rest["data"]
        return
    assert "errors" not in answer, answer
    if op.action == "delete":
        assert status == 204 and answer["data"] == {"r": True}
        return
    unstable = {"id", "created", "updated"}
    got = {k: v for k, v in answer["data"]["r"].items() if k not in unstable}
    same = {k: v for k, v in rest.items() if k not in unstable}
    _same_record(world, op.collection, parse_expand(op.expand), {**same, "id": None}, {**got, "id": None})
