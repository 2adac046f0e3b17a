"""S14: system fields cannot be mass-assigned, and stored secrets never appear in a response.

Checked against PocketBase 0.40.6: a client may pick the id of a new record but never change it;
``created``/``updated``, ``tokenKey`` (plain or ``:autogenerate``) and ``password:hash`` are
ignored. The modifier forms are covered by ``test_modifier_auth_fields.py``.
"""

from __future__ import annotations

from typing import Any

import httpx

from roost.core.records.save import fetch_record
from tests.conftest import Api

OLD = "2000-01-01 00:00:00.000Z"
PW = "mass12345"


class Recorder:
    """Calls through ``api`` and keeps every response body for the canary scan."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.bodies: list[str] = []

    async def __call__(self, method: str, url: str, **kw: Any) -> httpx.Response:
        res = await self.api.call(method, url, **kw)
        self.bodies.append(res.text)
        return res


async def _secrets(api: Api, record_id: str) -> tuple[str, str]:
    record = await fetch_record(api.app, api.app.collections.get("users"), record_id)
    assert record is not None
    return str(record["tokenKey"]), str(record["password"])


async def test_system_fields_are_not_client_settable(api: Api) -> None:
    call = Recorder(api)
    assert (await api.su("PATCH", "/api/collections/users", json={"viewRule": "", "listRule": ""})).status_code == 200
    body = {
        "email": "m@example.com", "password": PW, "passwordConfirm": PW, "id": "chosenid1234567",
        "created": OLD, "updated": OLD, "tokenKey": "attacker-known-key", "tokenKey:autogenerate": True,
        "password:hash": "$2a$10$0123456789012345678901uJ0v6m1xQ0uE3J8m0h7cH5pJQ9wYp8e",
    }  # fmt: skip
    res = await call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    rec = res.json()
    assert rec["id"] == "chosenid1234567" and rec["created"] != OLD and rec["updated"] != OLD
    token_key, password_hash = await _secrets(api, rec["id"])
    assert token_key != "attacker-known-key" and not password_hash.startswith("$2a$10$0123456789")
    token = await api.login("users", "m@example.com", PW)

    changes: list[dict[str, Any]] = [
        {"created": OLD}, {"updated": OLD}, {"tokenKey": "attacker-known-key"}, {"tokenKey:autogenerate": True},
        {"password:hash": "$2a$10$abcdefghijklmnopqrstuuJ0v6m1xQ0uE3J8m0h7cH5pJQ9wYp8e"}, {"collectionId": "x"},
        {"collectionName": "_superusers"}, {"expand": {"x": 1}},
    ]  # fmt: skip
    for change in changes:
        res = await call("PATCH", f"/api/collections/users/records/{rec['id']}", token=token, json=change)
        assert res.status_code == 200, (change, res.text)
    res = await call("PATCH", f"/api/collections/users/records/{rec['id']}", token=token, json={"id": "otherid12345678"})
    assert res.status_code == 400 and res.json()["data"]["id"]["code"] == "validation_pk_change"
    stored = (await call("GET", f"/api/collections/users/records/{rec['id']}", token=token)).json()
    assert stored["created"] == rec["created"] and stored["collectionName"] == "users"
    assert await _secrets(api, rec["id"]) == (token_key, password_hash)
    await api.login("users", "m@example.com", PW)

    # another user cannot touch this record's fields at all (the default update rule is the owner's)
    other = {"email": "o@example.com", "password": PW, "passwordConfirm": PW}
    assert (await call("POST", "/api/collections/users/records", json=other)).status_code == 200
    other_token = await api.login("users", "o@example.com", PW)
    res = await call("PATCH", f"/api/collections/users/records/{rec['id']}", token=other_token, json={"emailVisibility": True})
    assert res.status_code == 404
    for listing in (await call("GET", "/api/collections/users/records"), await call("GET", "/api/collections/users/records", token=token)):
        assert listing.status_code == 200
    scan = "\n".join(call.bodies)
    assert token_key not in scan and password_hash not in scan


async def test_an_owner_field_outside_the_rule_is_refused(api: Api) -> None:
    posts = {
        "name": "owned", "listRule": "", "viewRule": "",
        "createRule": "owner = @request.auth.id",
        "updateRule": "owner = @request.auth.id && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)",
        "fields": [{"name": "title", "type": "text"},
                   {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}],
    }  # fmt: skip
    assert (await api.su("POST", "/api/collections", json=posts)).status_code == 200
    ids = []
    for email in ("a@example.com", "b@example.com"):
        res = await api.call("POST", "/api/collections/users/records", json={"email": email, "password": PW, "passwordConfirm": PW})
        ids.append(res.json()["id"])
    token_a = await api.login("users", "a@example.com", PW)
    res = await api.call("POST", "/api/collections/owned/records", token=token_a, json={"title": "t", "owner": ids[1]})
    assert res.status_code == 400
    res = await api.call("POST", "/api/collections/owned/records", token=token_a, json={"title": "t", "owner": ids[0]})
    assert res.status_code == 200, res.text
    post = res.json()["id"]
    for change in ({"owner": ids[1]}, {"owner+": ids[1]}):
        res = await api.call("PATCH", f"/api/collections/owned/records/{post}", token=token_a, json=change)
        assert res.status_code == 404, (change, res.text)
    # on a single relation a prepended id is not the one kept: the owner stays
    res = await api.call("PATCH", f"/api/collections/owned/records/{post}", token=token_a, json={"+owner": ids[1]})
    assert res.status_code == 200 and res.json()["owner"] == ids[0]
    stored = await api.su("GET", f"/api/collections/owned/records/{post}")
    assert stored.json()["owner"] == ids[0]
