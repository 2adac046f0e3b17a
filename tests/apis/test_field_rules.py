"""Roles and field rules on every backend: a field's readRule and writeRule hold on every channel.

The world: ``users`` gets a ``roles`` multi-select that only admins may set; ``staff`` records carry
a ``salary`` readable by their owner and by admins, and ``notes`` writable by editors only;
``teams`` expand to their lead. Callers: a guest, carol (owner of one staff record, no role), bob
(editor), alice (admin), an API key scoped to staff and teams, and the superuser.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import orjson
import pytest

from roost.core.realtime.clients import Client
from tests.conftest import Api

ROLES = {"name": "roles", "type": "select", "maxSelect": 2, "values": ["admin", "editor"],
         "writeRule": '@request.auth.roles:each ?= "admin"'}  # fmt: skip
SALARY_RULE = (
    '(@request.auth.id != "" && @request.auth.id = owner) || @request.auth.roles:each ?= "admin"'
)
STAFF = {
    "name": "staff", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
    "fields": [
        {"name": "name", "type": "text"},
        {"name": "salary", "type": "number", "readRule": SALARY_RULE},
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "notes", "type": "text", "writeRule": '@request.auth.roles:each ?= "editor"'},
    ],
}  # fmt: skip
#: who sees which salary: carol her own, alice (admin) and the superuser all, the rest none
SEES = {"guest": set(), "key": set(), "carol": {"carol"}, "bob": set(), "alice": {"carol", "dave", "erin"},
        "su": {"carol", "dave", "erin"}}  # fmt: skip


async def _user(api: Api, name: str, roles: list[str]) -> dict[str, Any]:
    body = {
        "email": f"{name}@example.com",
        "password": "password123",
        "passwordConfirm": "password123",
        "roles": roles,
    }
    res = await api.su("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return {
        "id": res.json()["id"],
        "token": await api.login("users", f"{name}@example.com", "password123"),
    }


@pytest.fixture
async def world(api: Api) -> dict[str, Any]:
    users = (await api.su("GET", "/api/collections/users")).json()
    res = await api.su(
        "PATCH", "/api/collections/users", json={"fields": [*users["fields"], ROLES]}
    )
    assert res.status_code == 200, res.text
    people = {"alice": await _user(api, "alice", ["admin"]), "bob": await _user(api, "bob", ["editor"]),
              "carol": await _user(api, "carol", [])}  # fmt: skip
    staff = (await api.create_collection(STAFF))["id"]
    await api.create_collection({"name": "teams", "listRule": "", "viewRule": "", "fields": [
        {"name": "title", "type": "text"}, {"name": "lead", "type": "relation", "collectionId": staff, "maxSelect": 1}]})  # fmt: skip
    records = {}
    for name, salary, owner in (
        ("carol", 50, people["carol"]["id"]),
        ("dave", 10, ""),
        ("erin", 90, ""),
    ):
        records[name] = (
            await api.create_record("staff", {"name": name, "salary": salary, "owner": owner})
        )["id"]
    team = await api.create_record("teams", {"title": "t", "lead": records["carol"]})
    key = await api.su("POST", "/api/keys", json={"name": "ci", "scopes": ["staff:*", "teams:*"]})
    assert key.status_code == 200, key.text
    headers = {"guest": {}, "key": {"Authorization": f"Bearer {key.json()['key']}"},
               "su": {"Authorization": api.su_token}}  # fmt: skip
    headers.update({name: {"Authorization": p["token"]} for name, p in people.items()})
    return {"people": people, "records": records, "team": team["id"], "headers": headers}


def _salaries(items: list[dict[str, Any]]) -> set[str]:
    return {item["name"] for item in items if "salary" in item}


async def _list(api: Api, w: dict[str, Any], who: str, **params: str) -> dict[str, Any]:
    res = await api.call(
        "GET", "/api/collections/staff/records", headers=w["headers"][who], params=params
    )
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


CALLERS = sorted(SEES)


@pytest.mark.parametrize("who", CALLERS)
async def test_read_channels_show_a_field_only_to_callers_passing_its_read_rule(
    api: Api, world: dict[str, Any], who: str
) -> None:
    w, h, expected = world, world["headers"][who], SEES[who]
    # REST list and view
    assert _salaries((await _list(api, w, who))["items"]) == expected
    views = [
        (await api.call("GET", f"/api/collections/staff/records/{rid}", headers=h)).json()
        for rid in w["records"].values()
    ]
    assert _salaries(views) == expected
    # expand
    team = (
        await api.call("GET", f"/api/collections/teams/records/{w['team']}?expand=lead", headers=h)
    ).json()
    assert ("salary" in team["expand"]["lead"]) == ("carol" in expected)
    # ?fields= cannot ask for it back
    picked = (await _list(api, w, who, fields="name,salary"))["items"]
    assert _salaries(picked) == expected
    # GraphQL
    res = await api.call(
        "POST",
        "/api/graphql",
        headers=h,
        json={"query": '{ staffList(sort: "name") { items { name salary } } }'},
    )
    items = res.json()["data"]["staffList"]["items"]
    assert {i["name"] for i in items if i["salary"] is not None} == expected


@pytest.mark.parametrize("who", CALLERS)
async def test_filters_and_sorts_are_never_an_oracle(
    api: Api, world: dict[str, Any], who: str
) -> None:
    expected = SEES[who]
    above = await _list(api, world, who, filter="salary > 20", sort="name")
    assert [i["name"] for i in above["items"]] == [n for n in ("carol", "erin") if n in expected]
    below = await _list(
        api, world, who, filter="salary < 20 || salary = null || salary = 0", sort="name"
    )
    assert {i["name"] for i in below["items"]} <= {"dave"}
    # an unreadable salary sorts as if absent: the two unreadable records keep their name order
    ordered = [i["name"] for i in (await _list(api, world, who, sort="-salary,name"))["items"]]
    hidden = [n for n in ordered if n not in expected]
    assert hidden == sorted(hidden)
    if len(expected) == 3:
        assert ordered == ["erin", "carol", "dave"]
    # a relation path reaches the field through the same rule
    res = await api.call(
        "GET",
        "/api/collections/teams/records",
        headers=world["headers"][who],
        params={"filter": "lead.salary = 50"},
    )
    assert res.status_code == 200 and len(res.json()["items"]) == (1 if "carol" in expected else 0)


@pytest.mark.parametrize(
    ("who", "status"), [("guest", 400), ("carol", 400), ("key", 400), ("bob", 200), ("su", 200)]
)
async def test_write_rule_refuses_the_field_on_create_update_and_batch(
    api: Api, world: dict[str, Any], who: str, status: int
) -> None:
    h, rid = world["headers"][who], world["records"]["dave"]
    res = await api.call(
        "PATCH", f"/api/collections/staff/records/{rid}", headers=h, json={"notes": "n"}
    )
    assert res.status_code == status, res.text
    if status == 400:
        assert res.json()["data"] == {
            "notes": {
                "code": "validation_field_write_forbidden",
                "message": "You are not allowed to change this field.",
            }
        }
    res = await api.call(
        "POST", "/api/collections/staff/records", headers=h, json={"name": "x", "notes": "n"}
    )
    assert res.status_code == status
    # other fields stay writable
    assert (
        await api.call(
            "PATCH", f"/api/collections/staff/records/{rid}", headers=h, json={"name": "dave"}
        )
    ).status_code == 200
    await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}})
    batch = {
        "requests": [
            {
                "method": "PATCH",
                "url": f"/api/collections/staff/records/{rid}",
                "body": {"notes": "b"},
            }
        ]
    }
    res = await api.call("POST", "/api/batch", headers=h, json=batch)
    assert res.status_code == status
    if status == 400:
        nested = res.json()["data"]["requests"]["0"]["response"]
        assert nested["data"]["notes"]["code"] == "validation_field_write_forbidden"
    # GraphQL writes take the same path
    answer = (await api.call("POST", "/api/graphql", headers=h, json={
        "query": "mutation($id: String!) { updateStaff(id: $id, data: {notes: \"g\"}) { id } }", "variables": {"id": rid}})).json()  # fmt: skip
    assert ("errors" in answer) == (status == 400)


async def test_batch_answers_and_roles_protection(api: Api, world: dict[str, Any]) -> None:
    people, h = world["people"], world["headers"]
    # a user cannot give themselves a role; an admin can give one
    res = await api.call(
        "PATCH",
        f"/api/collections/users/records/{people['carol']['id']}",
        headers=h["carol"],
        json={"roles": ["admin"]},
    )
    assert (
        res.status_code == 400
        and res.json()["data"]["roles"]["code"] == "validation_field_write_forbidden"
    )
    users = (await api.su("GET", "/api/collections/users")).json()
    await api.su(
        "PATCH",
        "/api/collections/users",
        json={"updateRule": 'id = @request.auth.id || @request.auth.roles:each ?= "admin"'},
    )
    assert users["updateRule"] != ""
    res = await api.call(
        "PATCH",
        f"/api/collections/users/records/{people['carol']['id']}",
        headers=h["alice"],
        json={"roles": ["editor"]},
    )
    assert res.status_code == 200 and res.json()["roles"] == ["editor"]
    # batch answers are presented per caller
    await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}})
    batch = {
        "requests": [
            {
                "method": "POST",
                "url": "/api/collections/staff/records",
                "body": {"name": "new", "salary": 7},
            }
        ]
    }
    for who, shown in (("bob", False), ("alice", True)):
        res = await api.call("POST", "/api/batch", headers=h[who], json=batch)
        assert res.status_code == 200, res.text
        assert ("salary" in res.json()[0]["body"]) is shown


async def _subscribe(api: Api, topic: str, headers: dict[str, str]) -> Client:
    hub = api.app.realtime
    await hub.drain()
    client = hub.connect("127.0.0.1")
    res = await api.call(
        "POST",
        "/api/realtime",
        headers=headers,
        json={"clientId": client.id, "subscriptions": [topic]},
    )
    assert res.status_code == 204, res.text
    return client


async def test_realtime_events_follow_read_rules_and_roles(api: Api, world: dict[str, Any]) -> None:
    topic = "staff/*?options=" + urllib.parse.quote(json.dumps({"query": {"expand": "owner"}}))
    clients = {
        who: await _subscribe(api, topic, world["headers"][who])
        for who in ("guest", "carol", "alice", "su")
    }
    rid = world["records"]["carol"]
    assert (
        await api.su("PATCH", f"/api/collections/staff/records/{rid}", json={"salary": 55})
    ).status_code == 200
    await api.su("DELETE", f"/api/collections/staff/records/{world['records']['erin']}")
    await api.app.realtime.drain()
    for who, client in clients.items():
        events = [
            orjson.loads(item[1]) for item in client.outbox.take_ready(100) if item is not None
        ]
        assert [e["action"] for e in events] == ["update", "delete"], who
        assert ("salary" in events[0]["record"]) is (who != "guest"), who
        assert ("salary" in events[1]["record"]) is (who in ("alice", "su")), (
            who
        )  # judged on the deleted values


async def test_roles_in_collection_rules_hold_on_list_expand_and_realtime(
    api: Api, world: dict[str, Any]
) -> None:
    h = world["headers"]
    await api.create_collection({"name": "drafts", "listRule": '@request.auth.roles:each ?= "editor"', "viewRule": '@request.auth.roles:each ?= "editor"',
                                 "fields": [{"name": "title", "type": "text"}]})  # fmt: skip
    drafts = (await api.su("GET", "/api/collections/drafts")).json()
    await api.su("PATCH", "/api/collections/teams", json={"fields": [
        *(await api.su("GET", "/api/collections/teams")).json()["fields"],
        {"name": "draft", "type": "relation", "collectionId": drafts["id"], "maxSelect": 1}]})  # fmt: skip
    watchers = {who: await _subscribe(api, "drafts/*", h[who]) for who in ("carol", "bob")}
    draft = await api.create_record("drafts", {"title": "d"})
    await api.su(
        "PATCH", f"/api/collections/teams/records/{world['team']}", json={"draft": draft["id"]}
    )
    for who, sees in (("carol", False), ("bob", True), ("alice", False)):
        listed = (await api.call("GET", "/api/collections/drafts/records", headers=h[who])).json()[
            "items"
        ]
        assert len(listed) == int(sees), who
        team = (
            await api.call(
                "GET",
                f"/api/collections/teams/records/{world['team']}?expand=draft",
                headers=h[who],
            )
        ).json()
        assert ("draft" in team.get("expand", {})) is sees, who
    await api.app.realtime.drain()
    got = {
        who: [i for i in c.outbox.take_ready(100) if i is not None] for who, c in watchers.items()
    }
    assert len(got["bob"]) == 1 and got["carol"] == []


async def test_field_rules_are_validated_and_only_output_when_set(api: Api) -> None:
    res = await api.su(
        "POST",
        "/api/collections",
        json={"name": "bad", "fields": [{"name": "x", "type": "text", "readRule": "nope ="}]},
    )
    assert (
        res.status_code == 400
        and res.json()["data"]["fields"]["1"]["readRule"]["code"] == "validation_invalid_rule"
    )
    plain = await api.create_collection(
        {"name": "plain", "fields": [{"name": "x", "type": "text"}]}
    )
    assert all("readRule" not in f and "writeRule" not in f for f in plain["fields"])
    ruled = await api.create_collection(
        {
            "name": "ruled",
            "fields": [{"name": "x", "type": "text", "readRule": "", "writeRule": "x != ''"}],
        }
    )
    field = next(f for f in ruled["fields"] if f["name"] == "x")
    assert field["readRule"] == "" and field["writeRule"] == "x != ''"


async def test_roles_as_a_relation_to_a_roles_collection(api: Api) -> None:
    roles = await api.create_collection(
        {"name": "roles", "fields": [{"name": "name", "type": "text"}]}
    )
    users = (await api.su("GET", "/api/collections/users")).json()
    ref = {"name": "roleRefs", "type": "relation", "collectionId": roles["id"], "maxSelect": 5}
    assert (
        await api.su("PATCH", "/api/collections/users", json={"fields": [*users["fields"], ref]})
    ).status_code == 200
    editor = await api.create_record("roles", {"name": "editor"})
    viewer = await api.create_record("roles", {"name": "viewer"})
    rule = '@request.auth.roleRefs.name ?= "editor"'
    await api.create_collection(
        {"name": "drafts", "listRule": rule, "fields": [{"name": "title", "type": "text"}]}
    )
    await api.create_record("drafts", {"title": "d"})
    seen = {}
    for name, refs in (("ed", [viewer["id"], editor["id"]]), ("vi", [viewer["id"]])):
        body = {
            "email": f"{name}@example.com",
            "password": "password123",
            "passwordConfirm": "password123",
            "roleRefs": refs,
        }
        assert (
            await api.su("POST", "/api/collections/users/records", json=body)
        ).status_code == 200
        token = await api.login("users", f"{name}@example.com", "password123")
        seen[name] = (await api.call("GET", "/api/collections/drafts/records", token=token)).json()[
            "totalItems"
        ]
    assert seen == {"ed": 1, "vi": 0}


async def test_a_key_without_the_staff_scope_reaches_staff_on_no_channel(
    api: Api, world: dict[str, Any]
) -> None:
    key = (await api.su("POST", "/api/keys", json={"name": "teams", "scopes": ["teams:*"]})).json()[
        "key"
    ]
    h = {"Authorization": f"Bearer {key}"}
    staff = "/api/collections/staff/records"
    assert (await api.call("GET", staff, headers=h)).status_code == 403
    assert (
        await api.call("GET", f"{staff}/{world['records']['carol']}", headers=h)
    ).status_code == 403
    assert (
        await api.call(
            "PATCH", f"{staff}/{world['records']['carol']}", headers=h, json={"name": "x"}
        )
    ).status_code == 403
    team = (
        await api.call(
            "GET", f"/api/collections/teams/records/{world['team']}?expand=lead", headers=h
        )
    ).json()
    assert "lead" not in team.get("expand", {})
    res = await api.call(
        "GET", "/api/collections/teams/records", headers=h, params={"filter": "lead.name = 'carol'"}
    )
    assert res.status_code == 400
    answer = (
        await api.call(
            "POST", "/api/graphql", headers=h, json={"query": "{ staffList { items { name } } }"}
        )
    ).json()
    assert answer["errors"][0]["extensions"]["status"] == 403
