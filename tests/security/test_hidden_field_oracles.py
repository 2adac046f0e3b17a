"""S3: no hidden-field oracle (issue 9). A guest or another user sends pairs of requests that differ
only in a guess about a value it may not read (a ``hidden`` field, a non-visible e-mail, the password
hash, the tokenKey); one guess is right, the other wrong. Both answers must be identical on every
channel: filter (own fields, relations, back-relations, ``@collection``), sort, expand, ``fields``,
batch and realtime. The keyset cursor channel is issue 9 defect 2, held here as strict xfails.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Api
from tests.security.authz_world import cheap_passwords

PASSWORD = "password123"
# (collection, expression true for the hidden value, expression false for it)
FILTER_PAIRS = [
    ("posts", 'secret = "alpha"', 'secret = "omega-x"'),
    ("posts", 'secret != "alpha"', 'secret != "omega-x"'),
    ("posts", 'secret ~ "alp%"', 'secret ~ "xyz%"'),
    ("posts", 'secret !~ "alp"', 'secret !~ "xyz"'),
    ("posts", 'secret < "b"', 'secret < "a"'),
    ("posts", 'secret > "y"', 'secret > "zz"'),
    ("posts", 'secret ?= "alpha"', 'secret ?= "omega-x"'),
    ("posts", 'secret:lower = "alpha"', 'secret:lower = "omega-x"'),
    ("posts", 'author.email = "alice@example.com"', 'author.email = "nobody@example.com"'),
    ("posts", 'author.email ~ "alice"', 'author.email ~ "nobody"'),
    ("posts", 'author.password ~ "$2"', 'author.password ~ "no-hash"'),
    ("posts", 'author.password != ""', 'author.password = ""'),
    ("posts", 'author.tokenKey != ""', 'author.tokenKey = ""'),
    ("users", 'email = "alice@example.com"', 'email = "nobody@example.com"'),
    ("users", 'email ?~ "alice"', 'email ?~ "nobody"'),
    ("users", 'password != ""', 'password = ""'),
    ("users", 'tokenKey != ""', 'tokenKey = ""'),
    ("users", 'posts_via_author.secret ?= "alpha"', 'posts_via_author.secret ?= "omega-x"'),
    ("users", 'posts_via_author.secret = "alpha"', 'posts_via_author.secret = "omega-x"'),
    ("users", 'posts_via_author.author.email ?= "alice@example.com"', 'posts_via_author.author.email ?= "no@example.com"'),
    ("comments", 'post.secret = "alpha"', 'post.secret = "omega-x"'),
    ("comments", 'post.author.email = "alice@example.com"', 'post.author.email = "nobody@example.com"'),
    ("comments", 'post.author.posts_via_author.secret ?= "alpha"', 'post.author.posts_via_author.secret ?= "omega-x"'),
    ("posts", '@collection.posts.secret ?= "alpha"', '@collection.posts.secret ?= "omega-x"'),
]
# Controls on visible values: these must differ, or the channel under test said nothing at all.
CONTROL = [("posts", 'author.name = "alice"', 'author.name = "nobody"'), ("users", 'name = "alice"', 'name = "nobody"')]
# (collection, a sort over a hidden value, the reverse sort)
# (sorts by a non-visible e-mail are in CURSOR_SORTS below)
SORT_PAIRS = [
    ("posts", "secret", "-secret"),
    ("posts", "author.password", "-author.password"),
    ("posts", "author.tokenKey", "-author.tokenKey"),
    ("users", "password", "-password"),
    ("users", "tokenKey", "-tokenKey"),
    ("comments", "post.secret", "-post.secret"),
]
ACTORS = ("guest", "bob")


def _canonical(text: str, aliases: dict[str, str]) -> Any:
    """A response with twin ids folded together and timestamps dropped, for comparing twins."""
    for real, alias in aliases.items():
        text = text.replace(real, alias)

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("created", "updated")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    try:
        return strip(orjson.loads(text))
    except orjson.JSONDecodeError:
        return text


@pytest.fixture
async def world(api: Api) -> dict[str, Any]:
    """Public users alice and bob (e-mails not visible), posts with a hidden ``secret``, comments.

    p1 (alpha) and p3 (omega) are twins: same author, same visible fields, different secret.
    """
    await cheap_passwords(api, "users", listRule="", viewRule="")
    ids: dict[str, str] = {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD, "name": name}
        ids[name] = (await api.su("POST", "/api/collections/users/records", json=body)).json()["id"]
    ids["bob_token"] = await api.login("users", "bob@example.com", PASSWORD)
    open_rules = dict.fromkeys(("listRule", "viewRule", "createRule", "updateRule"), "")
    res = await api.su("POST", "/api/collections", json={"name": "posts", **open_rules, "fields": [
        {"name": "title", "type": "text"}, {"name": "secret", "type": "text", "hidden": True},
        {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]})  # fmt: skip
    assert res.status_code == 200, res.text
    res = await api.su("POST", "/api/collections", json={"name": "comments", **open_rules, "fields": [
        {"name": "post", "type": "relation", "collectionId": res.json()["id"], "maxSelect": 1}]})  # fmt: skip
    assert res.status_code == 200, res.text
    for key, secret, author in (("p1", "alpha", "alice"), ("p2", "zulu", "bob"), ("p3", "omega", "alice")):
        body = {"title": "twin", "secret": secret, "author": ids[author]}
        ids[key] = (await api.su("POST", "/api/collections/posts/records", json=body)).json()["id"]
    for key, post in (("c1", "p1"), ("c3", "p3")):
        ids[key] = (await api.su("POST", "/api/collections/comments/records", json={"post": ids[post]})).json()["id"]
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    return ids


def _token(world: dict[str, Any], actor: str) -> str | None:
    return world["bob_token"] if actor == "bob" else None


async def _get(api: Api, token: str | None, coll: str, **query: str) -> httpx.Response:
    return await api.call("GET", f"/api/collections/{coll}/records?" + urllib.parse.urlencode(query), token=token)


def _differs(label: str, one: httpx.Response, two: httpx.Response, aliases: dict[str, str] | None = None) -> list[str]:
    left = (one.status_code, _canonical(one.text, aliases or {}))
    right = (two.status_code, _canonical(two.text, aliases or {}))
    return [] if left == right else [f"{label}: {one.status_code} {one.text[:160]} <> {two.status_code} {two.text[:160]}"]


async def test_filter_and_sort_pairs_answer_the_same(api: Api, world: dict[str, Any]) -> None:
    found: list[str] = []
    for actor in ACTORS:
        token = _token(world, actor)
        for coll, right, wrong in FILTER_PAIRS:
            for extra in ({}, {"expand": "post.author,author"}, {"skipTotal": "1"}):
                one = await _get(api, token, coll, filter=right, **extra)
                two = await _get(api, token, coll, filter=wrong, **extra)
                found += _differs(f"{actor} {coll} filter {right!r} {extra}", one, two)
        for coll, up, down in SORT_PAIRS:
            one, two = await _get(api, token, coll, sort=up), await _get(api, token, coll, sort=down)
            found += _differs(f"{actor} {coll} sort {up}", one, two)
        for coll, right, wrong in CONTROL:
            if not _differs("control", await _get(api, token, coll, filter=right), await _get(api, token, coll, filter=wrong)):
                found.append(f"{actor} control {right!r} answered like {wrong!r}")
    assert not found, "\n".join(found)


async def test_twins_differing_only_in_a_hidden_value_look_the_same(api: Api, world: dict[str, Any]) -> None:
    """``fields``, ``expand`` and batch over twins: p1/p3 (and comments c1/c3 on them)."""
    aliases = {world["p1"]: "P", world["p3"]: "P", world["c1"]: "C", world["c3"]: "C"}
    found: list[str] = []
    for actor in ACTORS:
        token = _token(world, actor)
        for query in ("fields=secret", "fields=id,secret,title,author", "fields=*,expand.author.email",
                      "expand=author&fields=expand.author.email,expand.author.password,expand.author.tokenKey"):  # fmt: skip
            one = await api.call("GET", f"/api/collections/posts/records/{world['p1']}?{query}", token=token)
            two = await api.call("GET", f"/api/collections/posts/records/{world['p3']}?{query}", token=token)
            found += _differs(f"{actor} view {query}", one, two, aliases)
        for query in ("expand=post", "expand=post.author", "expand=post&fields=expand.post.secret"):
            one = await api.call("GET", f"/api/collections/comments/records/{world['c1']}?{query}", token=token)
            two = await api.call("GET", f"/api/collections/comments/records/{world['c3']}?{query}", token=token)
            found += _differs(f"{actor} comment {query}", one, two, aliases)
        for item in (
            {"method": "PATCH", "url": "/api/collections/posts/records/{p}?expand=author&fields=*,secret", "body": {"title": "twin"}},
            {"method": "POST", "url": "/api/collections/comments/records?expand=post", "body": {"post": "{p}"}},
            {"method": "GET", "url": '/api/collections/posts/records?filter=secret="{s}"'},
        ):
            one = await _batch(api, token, item, world["p1"], "alpha")
            two = await _batch(api, token, item, world["p3"], "omega")
            found += _differs(f"{actor} batch {item['method']} {item['url']}", one, two, aliases | {"alpha": "S", "omega": "S"})
    assert not found, "\n".join(found)


async def _batch(api: Api, token: str | None, item: dict[str, Any], post: str, secret: str) -> httpx.Response:
    text = json.dumps(item).replace("{p}", post).replace("{s}", secret)
    res = await api.call("POST", "/api/batch", token=token, json={"requests": [json.loads(text)]})
    # the new comment's own id differs between twins: fold it away
    if res.status_code == 200 and item["method"] == "POST":
        body = res.json()
        body[0]["body"].pop("id", None)
        return httpx.Response(200, json=body)
    return res


async def test_realtime_filters_on_hidden_values_deliver_the_same(api: Api, world: dict[str, Any]) -> None:
    hub = api.app.realtime
    await hub.drain()
    found: list[str] = []
    pairs = [(c, r, w) for c, r, w in FILTER_PAIRS + CONTROL if c in ("posts", "users") and "@collection" not in r]
    clients = []
    for actor in ACTORS:
        for coll, right, wrong in pairs:
            subs = []
            for expr in (right, wrong):
                client = hub.connect("127.0.0.1")
                key = f"{coll}/*?options=" + urllib.parse.quote(json.dumps({"query": {"filter": expr}}))
                res = await api.call("POST", "/api/realtime", token=_token(world, actor), json={"clientId": client.id, "subscriptions": [key]})
                assert res.status_code == 204, res.text
                subs.append(client)
            clients.append((f"{actor} {coll} {right!r}", subs))
    assert (await api.su("PATCH", f"/api/collections/posts/records/{world['p1']}", json={"title": "twin"})).status_code == 200
    assert (await api.su("PATCH", f"/api/collections/users/records/{world['alice']}", json={"name": "alice"})).status_code == 200
    await hub.drain()
    for label, (one, two) in clients:
        got = [[(name, orjson.loads(body)) for name, body in (i for i in c.outbox.take_ready(100) if i is not None)] for c in (one, two)]
        same = [[(n.split("?")[0], e) for n, e in events] for events in got]
        control = any(label.endswith(repr(right)) for _, right, _ in CONTROL)
        if (same[0] == same[1]) == control:
            found.append(f"{label}: {got[0]} <> {got[1]}" if not control else f"{label}: the control saw no difference")
    assert not found, "\n".join(found)


# Sorting by a non-visible e-mail orders by it, for a guest too: PocketBase 0.40 does the same (checked
# on the reference binary), and the cursor built from that sort carries the e-mail (defect 2, whose
# fix may refuse such sorts). Sorts by ``secret``/``password``/``tokenKey`` are refused (400) already.
CURSOR_SORTS = [("posts", "author.email"), ("users", "email")]


@pytest.mark.xfail(strict=True, reason="issue 9 defect 2: hidden sort values reach the cursor and the order")
@pytest.mark.parametrize(("coll", "sort"), CURSOR_SORTS)
async def test_cursor_never_carries_a_hidden_value(api: Api, world: dict[str, Any], coll: str, sort: str) -> None:
    found = []
    for field in (sort, "-" + sort):
        res = await _get(api, None, coll, cursor="", perPage="1", sort=field)
        cursor = res.json().get("nextCursor") or "" if res.status_code == 200 else ""
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)) if cursor else b""
        found += [value for value in ("alpha", "zulu", "omega", "alice@", "bob@") if value.encode() in raw]
    for extra in ({"cursor": "", "perPage": "1"}, {}):
        up = await _get(api, None, coll, sort=sort, **extra)
        down = await _get(api, None, coll, sort="-" + sort, **extra)
        found += _differs(f"{sort} {extra}", up, down)
    assert not found
