"""API keys on every backend: create/list/revoke/expire, scopes on every channel, IP allow-list,
hashed at rest, never logged, rate-limited by key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets

from roost.core.auth.api_keys import key_hash
from tests.conftest import Api, skip_or_fail
from tests.e2e.servers import RoostNotReady, ServiceUnavailable, start_server

POSTS = {
    "name": "posts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "protected": True, "maxSelect": 1}],
}  # fmt: skip


async def new_key(api: Api, scopes: list[str], **extra: Any) -> dict[str, Any]:
    res = await api.su("POST", "/api/keys", json={"name": "ci", "scopes": scopes, **extra})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_create_list_view_and_revoke(api: Api) -> None:
    await api.create_collection(POSTS)
    created = await new_key(api, ["posts:list", "posts:list", "*:view"])
    key = created["key"]
    assert key.startswith("rk_") and len(key) >= 3 + 43
    assert created["prefix"] == key[:11] and created["scopes"] == ["posts:list", "*:view"]
    assert created["lastUsed"] == ""
    listed = (await api.su("GET", "/api/keys")).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and "hash" not in listed[0]
    assert (await api.su("GET", f"/api/keys/{created['id']}")).json()["prefix"] == created["prefix"]
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(key))).status_code == 200
    assert (await api.su("GET", f"/api/keys/{created['id']}")).json()["lastUsed"] >= created["created"]
    assert (await api.call("GET", "/api/collections/posts/records", headers={"X-API-Key": key})).status_code == 200
    assert (await api.su("DELETE", f"/api/keys/{created['id']}")).status_code == 204
    res = await api.call("GET", "/api/collections/posts/records", headers=as_key(key))
    assert res.status_code == 401 and res.json()["message"] == "The API key is invalid, expired or revoked."
    assert (await api.su("DELETE", f"/api/keys/{created['id']}")).status_code == 404


async def test_only_superusers_manage_keys_and_a_key_cannot(api: Api) -> None:
    key = (await new_key(api, ["*"]))["key"]
    assert (await api.call("GET", "/api/keys")).status_code == 401
    assert (await api.call("POST", "/api/keys", headers=as_key(key), json={"name": "x", "scopes": ["*"]})).status_code == 403
    assert (await api.call("GET", "/api/collections", headers=as_key(key))).status_code == 403
    assert (await api.call("GET", "/api/settings", headers=as_key(key))).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "scopes": ["*"]}, "name"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["posts:read"]}, "scopes"),
    ({"name": "x", "scopes": ["*"], "allowedIPs": ["not-an-ip"]}, "allowedIPs"),
    ({"name": "x", "scopes": ["*"], "expires": "2001-01-01 00:00:00.000Z"}, "expires"),
])  # fmt: skip
async def test_bad_definitions_are_field_errors(api: Api, body: dict[str, Any], field: str) -> None:
    res = await api.su("POST", "/api/keys", json=body)
    assert res.status_code == 400 and list(res.json()["data"]) == [field]


async def test_an_expired_key_is_refused(api: Api) -> None:
    await api.create_collection(POSTS)
    created = await new_key(api, ["*"], expires="2999-01-01 00:00:00.000Z")
    assert created["expires"] == "2999-01-01 00:00:00.000Z"
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(created["key"]))).status_code == 200
    await _execute(api, 'UPDATE "_apiKeys" SET "expires" = :e', {"e": "2001-01-01 00:00:00.000Z"})
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(created["key"]))).status_code == 401


async def _execute(api: Api, sql: str, params: dict[str, Any]) -> None:
    async with api.app.db.transaction() as conn:
        await conn.execute(sql.replace('"', "`") if conn.dialect == "mysql" else sql, params)


async def test_the_database_holds_only_a_hash(api: Api) -> None:
    created = await new_key(api, ["*"])
    sql = 'SELECT * FROM "_apiKeys"'
    rows = await api.app.db.fetch_all(sql.replace('"', "`") if api.app.dialect == "mysql" else sql)
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert created["key"] not in stored and created["key"][11:] not in stored
    assert rows[0]["hash"] == key_hash(created["key"])


async def test_ip_allow_list(api: Api) -> None:
    await api.create_collection(POSTS)
    inside = (await new_key(api, ["*"], allowedIPs=["127.0.0.0/8"]))["key"]
    outside = (await new_key(api, ["*"], allowedIPs=["10.1.2.3"]))["key"]
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(inside))).status_code == 200
    res = await api.call("GET", "/api/collections/posts/records", headers=as_key(outside))
    assert res.status_code == 403 and res.json()["message"] == "The API key is not allowed from this IP address."


async def test_rules_see_the_key_as_its_own_principal(api: Api) -> None:
    await api.create_collection({**POSTS, "listRule": '@request.auth.collectionName = "_apiKeys"',
                                 "createRule": '@request.auth.name = "ci"'})  # fmt: skip
    key = await new_key(api, ["*"])
    await api.su("POST", "/api/collections/posts/records", json={"title": "a"})
    assert (await api.call("GET", "/api/collections/posts/records")).json()["totalItems"] == 0
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(key["key"]))).json()["totalItems"] == 1
    res = await api.call("POST", "/api/collections/posts/records", headers=as_key(key["key"]), json={"title": "b"})
    assert res.status_code == 200, res.text
    locked = await api.create_collection({"name": "locked"})
    assert (await api.call("GET", f"/api/collections/{locked['name']}/records", headers=as_key(key["key"]))).status_code == 403


async def test_logs_show_the_key_id_never_the_key(api: Api) -> None:
    await api.create_collection(POSTS)
    created = await new_key(api, ["posts:list"])
    await api.call("GET", "/api/collections/posts/records", headers=as_key(created["key"]))
    await api.call("GET", "/api/collections/posts/records", headers={"X-API-Key": created["key"]})
    await api.call("GET", "/api/collections/posts/records/x", headers=as_key(created["key"]))
    fenced = (await new_key(api, ["*"], allowedIPs=["10.9.9.9"]))["key"]
    unknown = "rk_" + "A" * 43
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(fenced))).status_code == 403
    assert (await api.call("GET", "/api/collections/posts/records", headers={"X-API-Key": unknown})).status_code == 401
    await api.app.logs.flush()
    res = await api.su("GET", "/api/logs?perPage=500")
    for key in (created["key"], fenced, unknown):
        assert key not in res.text and key[11:] not in res.text
    assert {401, 403} <= {item["data"]["status"] for item in res.json()["items"]}
    mine = [item for item in res.json()["items"] if item["data"].get("apiKey") == created["id"]]
    assert len(mine) == 3 and {item["data"]["auth"] for item in mine} == {"_apiKeys"}


async def test_rate_limits_count_by_key(api: Api) -> None:
    await api.create_collection(POSTS)
    res = await api.su("PATCH", "/api/settings", json={"rateLimits": {"enabled": True, "rules": [
        {"label": "posts:list", "audience": "@auth", "duration": 60, "maxRequests": 2}]}})  # fmt: skip
    assert res.status_code == 200, res.text
    one, two = (await new_key(api, ["*"]))["key"], (await new_key(api, ["*"]))["key"]
    statuses = [(await api.call("GET", "/api/collections/posts/records", headers=as_key(one))).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # the same IP with another key has its own count
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(two))).status_code == 200


async def _rest(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    base = "/api/collections/posts/records"
    res = {
        "list": lambda: api.call("GET", base, headers=h),
        "view": lambda: api.call("GET", f"{base}/{w['id']}", headers=h),
        "create": lambda: api.call("POST", base, headers=h, json={"title": "new"}),
        "update": lambda: api.call("PATCH", f"{base}/{w['id']}", headers=h, json={"title": "changed"}),
        "delete": lambda: api.call("DELETE", f"{base}/{w['spare']}", headers=h),
    }[op]
    return (await res()).status_code


async def _batch(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    request = {"create": {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "b"}},
               "update": {"method": "PATCH", "url": f"/api/collections/posts/records/{w['id']}", "body": {"title": "b"}},
               "delete": {"method": "DELETE", "url": f"/api/collections/posts/records/{w['spare2']}"}}[op]  # fmt: skip
    res = await api.call("POST", "/api/batch", headers=h, json={"requests": [request]})
    if res.status_code == 200:
        return 200
    nested = res.json()["data"]["requests"]["0"]["response"]
    return int(nested["status"])


async def _realtime(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    client = api.app.realtime.connect("127.0.0.1")
    topic = "posts/*" if op == "list" else f"posts/{w['id']}"
    res = await api.call("POST", "/api/realtime", headers=h, json={"clientId": client.id, "subscriptions": [topic]})
    return res.status_code


async def _graphql(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    query = {"list": "{ postsList { items { id } } }",
             "create": 'mutation { createPosts(data: {title: "g"}) { id } }'}[op]  # fmt: skip
    res = await api.call("POST", "/api/graphql", headers=h, json={"query": query})
    errors = res.json().get("errors")
    return int(errors[0]["extensions"]["status"]) if errors else 200


async def _file(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    token = (await api.call("POST", "/api/files/token", headers=h)).json()["token"]
    res = await api.call("GET", f"/api/files/posts/{w['id']}/{w['doc']}?token={token}")
    return 403 if res.status_code == 404 else res.status_code  # a file the key may not view is hidden


async def _aggregate(api: Api, h: dict[str, str], w: dict[str, str], op: str) -> int:
    return (await api.call("GET", "/api/collections/posts/aggregate?groupBy=title&fields=count", headers=h)).status_code


CHANNELS = [
    *((f"rest {op}", _rest, op) for op in ("list", "view", "create", "update", "delete")),
    *((f"batch {op}", _batch, op) for op in ("create", "update", "delete")),
    ("realtime posts/*", _realtime, "list"), ("realtime posts/id", _realtime, "view"),
    ("graphql list", _graphql, "list"), ("graphql create", _graphql, "create"),
    ("protected file", _file, "view"), ("aggregate", _aggregate, "list"),
]  # fmt: skip
SCOPES = {
    "posts:list": {"list"}, "posts:view": {"view"}, "posts:create": {"create"}, "posts:update": {"update"},
    "posts:delete": {"delete"}, "posts:*": {"list", "view", "create", "update", "delete"},
    "*:view": {"view"}, "*": {"list", "view", "create", "update", "delete"}, "users:*": set(),
}  # fmt: skip


@pytest.mark.parametrize("scope", list(SCOPES))
async def test_each_scope_on_each_channel(api: Api, scope: str) -> None:
    await api.create_collection(POSTS)
    await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}})
    res = await api.su("POST", "/api/collections/posts/records", data={"title": "t"}, files={"doc": ("a.txt", b"hi", "text/plain")})
    world = {"id": res.json()["id"], "doc": res.json()["doc"]}
    for spare in ("spare", "spare2"):
        world[spare] = (await api.create_record("posts", {"title": spare}))["id"]
    headers = as_key((await new_key(api, [scope]))["key"])
    outcomes = {name: await channel(api, headers, world, op) for name, channel, op in CHANNELS}
    expected = {name: (200 if op in SCOPES[scope] else 403) for name, _, op in CHANNELS}
    got = {name: (200 if 200 <= status < 300 else status) for name, status in outcomes.items()}
    assert got == expected


async def test_expand_and_relation_filters_stop_at_the_scopes(api: Api) -> None:
    users = await api.create_collection({"name": "people", "listRule": "", "viewRule": "", "fields": [{"name": "nick", "type": "text"}]})
    await api.create_collection({**POSTS, "fields": [{"name": "who", "type": "relation", "collectionId": users["id"], "maxSelect": 1}]})
    person = await api.create_record("people", {"nick": "ann"})
    await api.create_record("posts", {"who": person["id"]})
    narrow, wide = (await new_key(api, ["posts:*"]))["key"], (await new_key(api, ["posts:*", "people:*"]))["key"]
    url = "/api/collections/posts/records?expand=who"
    assert not (await api.call("GET", url, headers=as_key(narrow))).json()["items"][0].get("expand")
    assert (await api.call("GET", url, headers=as_key(wide))).json()["items"][0]["expand"]["who"]["nick"] == "ann"
    by_nick = '/api/collections/posts/records?filter=who.nick="ann"'
    assert (await api.call("GET", by_nick, headers=as_key(narrow))).status_code == 400
    assert (await api.call("GET", by_nick, headers=as_key(wide))).json()["totalItems"] == 1
    # a rule's own @collection reference is the author's choice, not the caller's probe
    await api.su("PATCH", "/api/collections/posts", json={"listRule": '@collection.people.nick ?= "ann"'})
    assert (await api.call("GET", "/api/collections/posts/records", headers=as_key(narrow))).json()["totalItems"] == 1


async def test_the_openapi_document_describes_keys(api: Api) -> None:
    doc = (await api.su("GET", "/api/openapi.json")).json()
    assert set(doc["paths"]["/api/keys"]) == {"get", "post"} and set(doc["paths"]["/api/keys/{id}"]) == {"get", "delete"}
    assert doc["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"


async def test_realtime_sse_takes_a_key_within_its_scopes(api: Api) -> None:
    await api.create_collection(POSTS)
    listing, other = (await new_key(api, ["posts:list"]))["key"], (await new_key(api, ["users:*"]))["key"]
    hub = api.app.realtime
    for key, allowed in ((listing, True), (other, False)):
        client = hub.connect("127.0.0.1")
        res = await api.call("POST", "/api/realtime", headers={"X-API-Key": key}, json={"clientId": client.id, "subscriptions": ["posts/*"]})
        assert res.status_code == (204 if allowed else 403)
        if allowed:
            assert client.auth_collection is not None and client.auth_collection.name == "_apiKeys"
            await api.create_record("posts", {"title": "seen"})
            await hub.drain()
            assert any(item is not None and item[0] == "posts/*" for item in client.outbox.take_ready(100))



async def test_revoking_a_key_ends_its_open_streams(api: Api) -> None:
    await api.create_collection(POSTS)
    revoked, kept = await new_key(api, ["*"]), await new_key(api, ["*"])
    hub = api.app.realtime
    clients = {}
    for created in (revoked, kept):
        client = clients[created["id"]] = hub.connect("127.0.0.1")
        res = await api.call("POST", "/api/realtime", headers=as_key(created["key"]), json={"clientId": client.id, "subscriptions": ["posts/*"]})
        assert res.status_code == 204
    assert (await api.su("DELETE", f"/api/keys/{revoked['id']}")).status_code == 204
    await hub.drain()
    assert clients[revoked["id"]].closed and clients[revoked["id"]].close_reason == "auth revoked"
    assert not clients[kept["id"]].closed
@pytest.mark.e2e
async def test_realtime_websocket_takes_a_key_within_its_scopes() -> None:
    try:
        server = start_server("roost")
    except (RoostNotReady, ServiceUnavailable) as exc:
        skip_or_fail(str(exc))
        return
    with server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            su = {"Authorization": server.superuser_token()}
            assert (await http.post("/api/collections", headers=su, json=POSTS)).status_code == 200
            keys = [(await http.post("/api/keys", headers=su, json={"name": s, "scopes": [s]})).json()["key"]
                    for s in ("posts:list", "users:*")]  # fmt: skip
            url = server.base_url.replace("http://", "ws://") + "/api/realtime/ws"
            async with websockets.connect(url, open_timeout=10) as allowed, websockets.connect(url, open_timeout=10) as refused:
                for ws, key in ((allowed, keys[0]), (refused, keys[1])):
                    assert json.loads(await ws.recv())["type"] == "connect"
                    await ws.send(json.dumps({"type": "auth", "token": key, "id": 1}))
                    assert json.loads(await ws.recv()) == {"type": "ack", "id": 1}
                    await ws.send(json.dumps({"type": "subscribe", "topics": ["posts/*"], "id": 2}))
                assert json.loads(await allowed.recv()) == {"type": "ack", "id": 2}
                answer = json.loads(await refused.recv())
                assert answer["type"] == "error" and answer["status"] == 403, answer
                assert (await http.post("/api/collections/posts/records", json={"title": "live"})).status_code == 200
                event = json.loads(await allowed.recv())
                assert event["type"] == "event" and event["topic"] == "posts/*" and event["data"]["record"]["title"] == "live"
