"""Rule outcomes for guest, owner, another user and a superuser, as a scenario table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

OWNER_RULE = "owner = @request.auth.id"


@pytest.fixture
async def notes(api: Api) -> dict[str, Any]:
    """Two users and a `notes` collection where only the owner may see and change a note."""
    users = {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123", "name": name}
        res = await api.call("POST", "/api/collections/users/records", json=body)
        assert res.status_code == 200, res.text
        users[name] = {"id": res.json()["id"], "token": await api.login("users", f"{name}@example.com", "password123")}
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
    res = await api.call("POST", "/api/collections/notes/records", token=users["alice"]["token"],
                         json={"text": "secret", "owner": users["alice"]["id"]})  # fmt: skip
    assert res.status_code == 200, res.text
    return {"users": users, "note": res.json()["id"]}


SCENARIOS = [
    # (name, who, method, path, body, status, expected fragment of the JSON body)
    ("guest list is filtered", None, "GET", "/api/collections/notes/records", None, 200, {"totalItems": 0}),
    ("owner list", "alice", "GET", "/api/collections/notes/records", None, 200, {"totalItems": 1}),
    ("other user list is filtered", "bob", "GET", "/api/collections/notes/records", None, 200, {"totalItems": 0}),
    ("superuser sees all", "su", "GET", "/api/collections/notes/records", None, 200, {"totalItems": 1}),
    ("guest view is 404", None, "GET", "/api/collections/notes/records/{note}", None, 404, {"status": 404}),
    ("owner view", "alice", "GET", "/api/collections/notes/records/{note}", None, 200, {"text": "secret"}),
    ("other view is 404", "bob", "GET", "/api/collections/notes/records/{note}", None, 404, {"status": 404}),
    ("guest create fails the rule", None, "POST", "/api/collections/notes/records", {"text": "x"}, 400,
     {"message": "Failed to create record.", "data": {}}),
    ("create for someone else fails", "bob", "POST", "/api/collections/notes/records", {"text": "x", "owner": "{alice}"}, 400,
     {"message": "Failed to create record."}),
    ("other update is 404", "bob", "PATCH", "/api/collections/notes/records/{note}", {"text": "hacked"}, 404, {"status": 404}),
    ("owner update", "alice", "PATCH", "/api/collections/notes/records/{note}", {"text": "new"}, 200, {"text": "new"}),
    ("owner may not move the note", "alice", "PATCH", "/api/collections/notes/records/{note}", {"owner": "{bob}"}, 404, {"status": 404}),
    ("other delete is 404", "bob", "DELETE", "/api/collections/notes/records/{note}", None, 404, {"status": 404}),
    ("guest may not filter by @request", None, "GET", "/api/collections/notes/records?filter=@request.auth.id%3D''", None, 403,
     {"message": "Only superusers can filter by @request."}),
    ("guest may not filter by @collection", None, "GET", "/api/collections/notes/records?filter=@collection.users.id%3D''", None, 403,
     {"message": "Only superusers can filter by @collection."}),
    ("bad filter is 400", "alice", "GET", "/api/collections/notes/records?filter=text%3D", None, 400, {"status": 400}),
    ("unknown field in filter is 400", "alice", "GET", "/api/collections/notes/records?filter=nope%3D1", None, 400, {"status": 400}),
    ("unknown sort field is 400", "alice", "GET", "/api/collections/notes/records?sort=nope", None, 400, {"status": 400}),
    ("other user cannot see alice's email", "bob", "GET", "/api/collections/users/records/{alice}", None, 404, {"status": 404}),
    ("owner delete", "alice", "DELETE", "/api/collections/notes/records/{note}", None, 204, None),
]


def _fill(value: Any, ctx: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in ctx.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    return value


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


@pytest.mark.parametrize(("name", "who", "method", "path", "body", "status", "fragment"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
async def test_rule_scenario(
    api: Api, notes: dict[str, Any], name: str, who: str | None, method: str, path: str,
    body: dict[str, Any] | None, status: int, fragment: dict[str, Any] | None,
) -> None:  # fmt: skip
    users = notes["users"]
    ctx = {"note": notes["note"], "alice": users["alice"]["id"], "bob": users["bob"]["id"]}
    token = api.su_token if who == "su" else (users[who]["token"] if who else None)
    res = await api.call(method, _fill(path, ctx), token=token, json=_fill(body, ctx) if body is not None else None)
    assert res.status_code == status, res.text
    if fragment is not None:
        assert _contains(res.json(), fragment), res.text


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
