"""Realtime through the API: POST /api/realtime, rules per subscriber, options, deletes, batch.

Clients are registered on the hub directly (an SSE stream needs a live server; see
``tests/e2e``); subscriptions and auth go through the real POST endpoint.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import orjson
import pytest

from roost.core.realtime.clients import Client
from tests.conftest import Api

VISIBLE = "public = true || author = @request.auth.id"


def with_options(topic: str, **query: Any) -> str:
    return topic + "?options=" + urllib.parse.quote(json.dumps({"query": query}))


@pytest.fixture
async def world(api: Api) -> dict[str, Any]:
    """Users alice and bob, `posts` (public or the author's own) and `comments` cascading from posts."""
    users = {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123", "name": name}
        res = await api.call("POST", "/api/collections/users/records", json=body)
        assert res.status_code == 200, res.text
        users[name] = {"id": res.json()["id"], "token": await api.login("users", f"{name}@example.com", "password123")}
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "listRule": VISIBLE, "viewRule": VISIBLE, "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "public", "type": "bool"},
            {"name": "secret", "type": "text", "hidden": True},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    posts_id = res.json()["id"]
    res = await api.su("POST", "/api/collections", json={
        "name": "comments", "listRule": "", "viewRule": "",
        "fields": [{"name": "post", "type": "relation", "collectionId": posts_id, "maxSelect": 1, "cascadeDelete": True}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    return {"users": users, "posts": posts_id}


async def subscribe(api: Api, keys: list[str], token: str | None = None) -> Client:
    hub = api.app.realtime
    await hub.drain()  # earlier writes are not this client's business
    client = hub.connect("127.0.0.1")
    res = await api.call("POST", "/api/realtime", token=token, json={"clientId": client.id, "subscriptions": keys})
    assert res.status_code == 204, res.text
    return client


async def received(api: Api, client: Client) -> list[tuple[str, dict[str, Any]]]:
    await api.app.realtime.drain()
    return [(item[0], orjson.loads(item[1])) for item in client.outbox.take_ready(10_000) if item is not None]


async def create_post(api: Api, **body: Any) -> dict[str, Any]:
    res = await api.su("POST", "/api/collections/posts/records", json=body)
    assert res.status_code == 200, res.text
    return dict(res.json())


# ----- the subscription endpoint --------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, '"clientId":{"code":"validation_required"'),
        ({"clientId": "missing"}, 404, "Missing or invalid client id."),
        ({"clientId": "x", "subscriptions": "posts"}, 400, '"data":{}'),
        ({"clientId": "@live", "subscriptions": [f"t{n}" for n in range(1001)]}, 400, "no more than 1000"),
        ({"clientId": "@live", "subscriptions": ["x" * 2501]}, 400, '"0":{"code":"validation_length_too_long"'),
        ({"clientId": "@live", "subscriptions": ["x" * 2500]}, 204, ""),
        ({"clientId": "@live"}, 204, ""),
    ],
)
async def test_subscription_requests(api: Api, body: dict[str, Any], status: int, fragment: str) -> None:
    if body.get("clientId") == "@live":
        body = {**body, "clientId": api.app.realtime.connect("127.0.0.1").id}
    res = await api.call("POST", "/api/realtime", json=body)
    assert res.status_code == status, res.text
    assert fragment in res.text


async def test_auth_is_bound_once_and_a_different_auth_is_refused(api: Api, world: dict[str, Any]) -> None:
    alice, bob = world["users"]["alice"]["token"], world["users"]["bob"]["token"]
    client = await subscribe(api, ["posts/*"], alice)
    for token in (alice, None, bob, api.su_token):
        res = await api.call("POST", "/api/realtime", token=token, json={"clientId": client.id, "subscriptions": []})
        expected = 204 if token == alice else 403
        assert res.status_code == expected, (token, res.text)
    assert "don't match" in res.text


# ----- who receives what ------------------------------------------------------------------------
async def test_events_reach_only_subscribers_whose_rules_allow(api: Api, world: dict[str, Any]) -> None:
    alice = world["users"]["alice"]
    guest = await subscribe(api, ["posts/*"])
    owner = await subscribe(api, ["posts/*"], alice["token"])
    other = await subscribe(api, ["posts/*"], world["users"]["bob"]["token"])
    su = await subscribe(api, ["posts/*"], api.su_token)
    public = await create_post(api, title="hello", public=True, secret="s")
    private = await create_post(api, title="mine", author=alice["id"], secret="s")
    seen = {name: [e["record"]["id"] for _, e in await received(api, c)] for name, c in
            (("guest", guest), ("owner", owner), ("other", other), ("su", su))}  # fmt: skip
    assert seen == {
        "guest": [public["id"]],
        "owner": [public["id"], private["id"]],
        "other": [public["id"]],
        "su": [public["id"], private["id"]],
    }


async def test_payload_matches_rest_visibility(api: Api, world: dict[str, Any]) -> None:
    guest = await subscribe(api, ["posts/*"])
    su = await subscribe(api, ["posts/*"], api.su_token)
    post = await create_post(api, title="hello", public=True, secret="s")
    [(name, event)] = await received(api, guest)
    assert name == "posts/*" and event["action"] == "create"
    rest = (await api.call("GET", f"/api/collections/posts/records/{post['id']}")).json()
    assert event["record"] == rest and "secret" not in event["record"]
    [(_, su_event)] = await received(api, su)
    assert su_event["record"]["secret"] == "s"


async def test_topics_by_name_id_and_record(api: Api, world: dict[str, Any]) -> None:
    post = await create_post(api, title="a", public=True)
    keys = ["posts", "posts/*", world["posts"] + "/*", f"posts/{post['id']}", "POSTS/*", "posts/other"]
    client = await subscribe(api, keys)
    await api.su("PATCH", f"/api/collections/posts/records/{post['id']}", json={"title": "b"})
    names = sorted(name for name, _ in await received(api, client))
    assert names == sorted(["posts", "posts/*", world["posts"] + "/*", f"posts/{post['id']}"])


async def test_options_fields_expand_and_filter(api: Api, world: dict[str, Any]) -> None:
    alice = world["users"]["alice"]
    keys = [
        with_options("posts/*", fields="id,title"),
        with_options("posts/*", expand="author"),
        with_options("posts/*", filter="title ~ 'keep'"),
        with_options("posts/*", filter="@request.auth.id != ''"),
    ]
    client = await subscribe(api, keys, alice["token"])
    await create_post(api, title="keep me", public=True, author=alice["id"])
    await create_post(api, title="drop me", public=True)
    events = await received(api, client)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for name, event in events:
        by_key.setdefault(name, []).append(event["record"])
    assert [set(r) for r in by_key[keys[0]]] == [{"id", "title"}, {"id", "title"}]
    assert by_key[keys[1]][0]["expand"]["author"]["id"] == alice["id"]
    assert [r["title"] for r in by_key[keys[2]]] == ["keep me"]
    assert keys[3] not in by_key  # @request in a non-superuser filter is never delivered


async def test_delete_is_judged_on_the_record_as_it_was_and_cascades_emit(api: Api, world: dict[str, Any]) -> None:
    post = await create_post(api, title="gone", public=True)
    res = await api.su("POST", "/api/collections/comments/records", json={"post": post["id"]})
    comment = res.json()
    client = await subscribe(api, ["posts/*", "comments/*", f"posts/{post['id']}"])
    assert (await api.su("DELETE", f"/api/collections/posts/records/{post['id']}")).status_code == 204
    events = sorted((name, e["action"], e["record"]["id"]) for name, e in await received(api, client))
    assert events == sorted([
        ("comments/*", "delete", comment["id"]),
        ("posts/*", "delete", post["id"]),
        (f"posts/{post['id']}", "delete", post["id"]),
    ])  # fmt: skip


async def test_batch_events_arrive_after_commit_and_failed_batches_emit_nothing(api: Api, world: dict[str, Any]) -> None:
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 50}})).status_code == 200
    client = await subscribe(api, ["posts/*"])
    ok = [{"method": "POST", "url": "/api/collections/posts/records", "body": {"title": t, "public": True}} for t in "ab"]
    assert (await api.su("POST", "/api/batch", json={"requests": ok})).status_code == 200
    bad = [*ok, {"method": "POST", "url": "/api/collections/nope/records", "body": {}}]
    assert (await api.su("POST", "/api/batch", json={"requests": bad})).status_code == 400
    assert [e["record"]["title"] for _, e in await received(api, client)] == ["a", "b"]


async def test_auth_records_show_email_only_to_the_owner_and_superusers(api: Api, world: dict[str, Any]) -> None:
    alice = world["users"]["alice"]
    owner = await subscribe(api, [f"users/{alice['id']}"], alice["token"])
    su = await subscribe(api, ["users/*"], api.su_token)
    await api.su("PATCH", f"/api/collections/users/records/{alice['id']}", json={"name": "Alice"})
    [(_, mine)] = await received(api, owner)
    [(_, seen_by_su)] = await received(api, su)
    assert mine["record"]["email"] == seen_by_su["record"]["email"] == "alice@example.com"


async def test_leave_event_when_a_record_stops_matching(api: Api, world: dict[str, Any]) -> None:
    key = with_options("posts/*", filter="public = true", leave=True)
    client = await subscribe(api, [key], api.su_token)
    post = await create_post(api, title="a", public=True)
    await api.su("PATCH", f"/api/collections/posts/records/{post['id']}", json={"public": False})
    await api.su("PATCH", f"/api/collections/posts/records/{post['id']}", json={"title": "still hidden"})
    actions = [(e["action"], e["record"]["id"]) for _, e in await received(api, client)]
    assert actions == [("create", post["id"]), ("leave", post["id"])]
