"""Rule outcomes for guest, owner, another user and a superuser, as a scenario table."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from roost.testing import ApiScenario, TestApp, login_as
from tests.conftest import Api

OWNER_RULE = "owner = @request.auth.id"
NOTES = "/api/collections/notes/records"
ALICE = login_as("users", "alice@example.com", "password123")
BOB = login_as("users", "bob@example.com", "password123")
NOT_FOUND = '"status":404'
CREATED = "on_record_after_create_success"
UPDATED = "on_record_after_update_success"
DELETED = "on_record_after_delete_success"


async def seed_notes(api: TestApp) -> dict[str, str]:
    """Two users and a `notes` collection where only the owner may see and change a note."""
    ids = {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123", "name": name}
        res = await api.call("POST", "/api/collections/users/records", json=body)
        assert res.status_code == 200, res.text
        ids[name] = res.json()["id"]
    res = await api.su("POST", "/api/collections", json={
        "name": "notes",
        "listRule": OWNER_RULE, "viewRule": OWNER_RULE,
        "createRule": "@request.auth.id != '' && owner = @request.auth.id",
        "updateRule": OWNER_RULE + " && @request.body.owner:isset = false",
        "deleteRule": OWNER_RULE,
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    res = await api.call("POST", NOTES, token=await ALICE(api), json={"text": "secret", "owner": ids["alice"]})
    assert res.status_code == 200, res.text
    return {**ids, "note": res.json()["id"]}


@pytest.fixture
async def notes(api: Api) -> dict[str, Any]:
    ids = await seed_notes(api)
    users = {name: {"id": ids[name], "token": await api.login("users", f"{name}@example.com", "password123")} for name in ("alice", "bob")}
    return {"users": users, "note": ids["note"]}


row = partial(ApiScenario, before=seed_notes)
SCENARIOS = [
    row("guest list is filtered", "GET", NOTES, expected_content=['"totalItems":0']),
    row("owner list", "GET", NOTES, auth=ALICE, expected_content=['"totalItems":1']),
    row("other user list is filtered", "GET", NOTES, auth=BOB, expected_content=['"totalItems":0']),
    row("superuser sees all", "GET", NOTES, auth="superuser", expected_content=['"totalItems":1']),
    row("guest view is 404", "GET", NOTES + "/$note", expected_status=404, expected_content=[NOT_FOUND]),
    row("owner view", "GET", NOTES + "/$note", auth=ALICE, expected_content=['"text":"secret"']),
    row("other view is 404", "GET", NOTES + "/$note", auth=BOB, expected_status=404, expected_content=[NOT_FOUND]),
    row("guest create fails the rule", "POST", NOTES, body={"text": "x"}, expected_status=400,
        expected_content=['"message":"Failed to create record."', '"data":{}'], unexpected_hooks=[CREATED]),
    row("create for someone else fails", "POST", NOTES, auth=BOB, body={"text": "x", "owner": "$alice"}, expected_status=400,
        expected_content=['"message":"Failed to create record."'], unexpected_hooks=[CREATED]),
    row("other update is 404", "PATCH", NOTES + "/$note", auth=BOB, body={"text": "hacked"}, expected_status=404,
        expected_content=[NOT_FOUND], unexpected_hooks=[UPDATED]),
    row("owner update", "PATCH", NOTES + "/$note", auth=ALICE, body={"text": "new"}, expected_content=['"text":"new"'],
        expected_hooks=[UPDATED]),
    row("owner may not move the note", "PATCH", NOTES + "/$note", auth=ALICE, body={"owner": "$bob"}, expected_status=404,
        expected_content=[NOT_FOUND], unexpected_hooks=[UPDATED]),
    row("other delete is 404", "DELETE", NOTES + "/$note", auth=BOB, expected_status=404, expected_content=[NOT_FOUND]),
    row("guest may not filter by @request", "GET", NOTES + "?filter=@request.auth.id%3D''", expected_status=403,
        expected_content=['"message":"Only superusers can filter by @request."']),
    row("guest may not filter by @collection", "GET", NOTES + "?filter=@collection.users.id%3D''", expected_status=403,
        expected_content=['"message":"Only superusers can filter by @collection."']),
    row("bad filter is 400", "GET", NOTES + "?filter=text%3D", auth=ALICE, expected_status=400, expected_content=['"status":400']),
    row("unknown field in filter is 400", "GET", NOTES + "?filter=nope%3D1", auth=ALICE, expected_status=400,
        expected_content=['"status":400']),
    row("unknown sort field is 400", "GET", NOTES + "?sort=nope", auth=ALICE, expected_status=400, expected_content=['"status":400']),
    row("other user cannot see alice's email", "GET", "/api/collections/users/records/$alice", auth=BOB, expected_status=404,
        expected_content=[NOT_FOUND]),
    row("owner delete", "DELETE", NOTES + "/$note", auth=ALICE, expected_status=204, expected_hooks=[DELETED]),
]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_rule_scenario(api: Api, scenario: ApiScenario) -> None:
    await scenario.run(api)


async def test_token_of_a_changed_password_is_rejected(api: Api, notes: dict[str, Any]) -> None:
    alice = notes["users"]["alice"]
    res = await api.call("PATCH", f"/api/collections/users/records/{alice['id']}", token=alice["token"],
                         json={"oldPassword": "password123", "password": "password456", "passwordConfirm": "password456"})  # fmt: skip
    assert res.status_code == 200, res.text
    res = await api.call("POST", "/api/collections/users/auth-refresh", token=alice["token"])
    assert res.status_code == 401  # the old token is now a guest's


async def test_view_collection_is_read_only_and_follows_its_rules(api: Api, notes: dict[str, Any]) -> None:
    res = await api.su("POST", "/api/collections", json={
        "name": "note_texts", "type": "view", "listRule": "", "viewRule": "",
        "viewQuery": "SELECT id, text, owner FROM notes",
    })  # fmt: skip
    assert res.status_code == 200, res.text
    assert [f["name"] for f in res.json()["fields"]] == ["id", "text", "owner"]
    assert res.json()["fields"][2]["type"] == "relation"
    res = await api.call("GET", "/api/collections/note_texts/records")
    assert res.json()["totalItems"] == 1 and res.json()["items"][0]["text"] == "secret"
    res = await api.call("POST", "/api/collections/note_texts/records", json={"text": "x"})
    assert res.status_code == 400 and res.json()["message"] == "Unsupported collection type."
    res = await api.su("POST", "/api/collections", json={"name": "bad_view", "type": "view", "viewQuery": "SELECT text FROM notes"})
    assert res.json()["data"]["viewQuery"]["code"] == "validation_invalid_view_query"
    res = await api.su("POST", "/api/collections", json={"name": "bad_view", "type": "view", "viewQuery": "DELETE FROM notes"})
    assert res.json()["data"]["viewQuery"]["code"] == "validation_invalid_view_query"
