"""Realtime through the JS SDK (EventSource from the ``eventsource`` package) as a guest, an owner
and a superuser. Every server kind must produce the same normalised event log, and the reference
server is one of the kinds, so these expectations are PocketBase's own frames."""

from __future__ import annotations

from typing import Any

import pytest

from .sdk import SdkDriver, code, superuser_login
from .servers import LiveServer

VISIBLE = "public = true || author = @request.auth.id"

SCENARIO = f"""
const su = client('su'), guest = client('guest'), owner = client('owner'), other = client('other');
await su.collections.create({{name: 'rt_posts', listRule: {VISIBLE!r}, viewRule: {VISIBLE!r},
  fields: [{{name: 'title', type: 'text'}}, {{name: 'public', type: 'bool'}},
           {{name: 'secret', type: 'text', hidden: true}},
           {{name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1}}]}});
const ids = {{}};
for (const name of ['owner', 'other']) {{
  const email = name + '@rt.example.com';
  await su.collection('users').create({{email, password: 'rt-pass-123', passwordConfirm: 'rt-pass-123',
    name, emailVisibility: false}});
  const auth = await client(name).collection('users').authWithPassword(email, 'rt-pass-123');
  ids[name] = auth.record.id;
}}
const log = [];
const pick = (r) => {{
  const out = {{}};
  for (const k of Object.keys(r).sort()) {{
    if (['id', 'created', 'updated', 'collectionId'].includes(k)) continue;
    if (k === 'author') out[k] = r[k] ? (r[k] === ids.owner ? 'owner' : 'other') : '';
    else if (k === 'expand') out[k] = Object.fromEntries(Object.entries(r[k]).map(([n, v]) => [n, Object.keys(v).sort()]));
    else out[k] = r[k];
  }}
  return out;
}};
const listen = (who, sdk, topic, opts) => sdk.collection('rt_posts').subscribe(topic,
  (e) => log.push([who, e.action, pick(e.record)]), opts);
await listen('guest', guest, '*');
await listen('owner', owner, '*', {{expand: 'author'}});
await listen('other', other, '*', {{fields: 'title,author'}});
await listen('su', su, '*', {{filter: "title != 'skip'", fields: 'title,secret,public'}});
await listen('owner-filtered', owner, '*', {{filter: "@request.auth.id != ''"}});
await sleep(300);
const posts = su.collection('rt_posts');
const p1 = await posts.create({{title: 'public', public: true, secret: 's1'}});
const a1 = await posts.create({{title: 'owned', author: ids.owner, secret: 's2'}});
await posts.create({{title: 'skip', public: true}});
await posts.update(p1.id, {{title: 'public2'}});
await posts.update(a1.id, {{public: true}});
await posts.delete(a1.id);
await sleep(1000);
for (const sdk of [guest, owner, other, su]) await sdk.realtime.unsubscribe();
return log;
"""


def _key(entry: list[Any]) -> str:
    return repr(entry)


def test_rules_options_and_payloads_match_the_reference(server: LiveServer, sdk: SdkDriver) -> None:
    run = sdk.run(server.base_url, [superuser_login(server, "su"), code("scenario", SCENARIO)], timeout=90)
    events = sorted(run["scenario"].value, key=_key)
    expected = sorted(EXPECTED, key=_key)
    assert events == expected, f"{server.kind}: {events}"


def _rec(title: str, public: bool, author: str = "", **extra: Any) -> dict[str, Any]:
    return {"author": author, "collectionName": "rt_posts", "public": public, "title": title, **extra}


EXPECTED: list[list[Any]] = [
    # guest: public records only, hidden field never shown
    ["guest", "create", _rec("public", True)],
    ["guest", "create", _rec("skip", True)],
    ["guest", "update", _rec("public2", True)],
    ["guest", "update", _rec("owned", True, "owner")],
    ["guest", "delete", _rec("owned", True, "owner")],
    # owner: its own private record too, with the author expanded (own email visible)
    ["owner", "create", _rec("public", True, expand={})],
    ["owner", "create", _rec("owned", False, "owner", expand={"author": [
        "avatar", "collectionId", "collectionName", "created", "email", "emailVisibility", "id", "name", "updated",
        "verified"]})],
    ["owner", "create", _rec("skip", True, expand={})],
    ["owner", "update", _rec("public2", True, expand={})],
    ["owner", "update", _rec("owned", True, "owner", expand={"author": [
        "avatar", "collectionId", "collectionName", "created", "email", "emailVisibility", "id", "name", "updated",
        "verified"]})],
    ["owner", "delete", _rec("owned", True, "owner", expand={"author": [
        "avatar", "collectionId", "collectionName", "created", "email", "emailVisibility", "id", "name", "updated",
        "verified"]})],
    # another user: public only, fields picked
    ["other", "create", {"author": "", "title": "public"}],
    ["other", "create", {"author": "", "title": "skip"}],
    ["other", "update", {"author": "", "title": "public2"}],
    ["other", "update", {"author": "owner", "title": "owned"}],
    ["other", "delete", {"author": "owner", "title": "owned"}],
    # superuser: everything except the filtered title, hidden field included
    ["su", "create", {"public": True, "secret": "s1", "title": "public"}],
    ["su", "create", {"public": False, "secret": "s2", "title": "owned"}],
    ["su", "update", {"public": True, "secret": "s1", "title": "public2"}],
    ["su", "update", {"public": True, "secret": "s2", "title": "owned"}],
    ["su", "delete", {"public": True, "secret": "s2", "title": "owned"}],
    # a non-superuser filter that reads @request is never delivered: no "owner-filtered" entries
]


@pytest.mark.parametrize("kind", ["roost"])
def test_websocket_protocol(kind: str, fresh_server: Any) -> None:
    import asyncio
    import json

    import httpx
    import websockets

    live = fresh_server(kind)
    token = live.superuser_token()

    async def scenario() -> list[dict[str, Any]]:
        url = live.base_url.replace("http://", "ws://") + "/api/realtime/ws"
        async with websockets.connect(url) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "connect" and len(hello["clientId"]) == 40
            replies = []
            for message in ({"type": "auth", "token": token, "id": 1}, {"type": "subscribe", "topics": ["ws_items/*"], "id": 2},
                            {"type": "ping", "id": 3}, {"type": "auth", "token": "bad", "id": 4}):
                await ws.send(json.dumps(message))
                replies.append(json.loads(await ws.recv()))
            async with httpx.AsyncClient(base_url=live.base_url, headers={"Authorization": token}) as http:
                await http.post("/api/collections", json={"name": "ws_items", "listRule": None, "fields": [{"name": "n", "type": "number"}]})
                await http.post("/api/collections/ws_items/records", json={"n": 1})
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await ws.send(json.dumps({"type": "unsubscribe", "id": 5}))
            replies.append(json.loads(await ws.recv()))
            return replies

    replies = asyncio.run(scenario())
    assert [r["type"] for r in replies] == ["ack", "ack", "pong", "error", "event", "ack"]
    assert replies[3]["status"] == 401
    assert replies[4]["topic"] == "ws_items/*" and replies[4]["data"]["record"]["n"] == 1
