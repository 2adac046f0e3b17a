"""API keys through the JS SDK's ``pb.send``: a superuser creates a key, a service uses it within
its scopes, the superuser revokes it (Roost only: PocketBase has no API keys)."""

from __future__ import annotations

from collections.abc import Callable

from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer

POSTS = "{name: 'notes', listRule: '', viewRule: '', createRule: '', fields: [{name: 'title', type: 'text'}]}"


def _with_key(expr: str) -> str:
    return f"client('svc').send({expr}, {{method: 'GET', headers: {{Authorization: 'Bearer ' + vars.key.key}}}})"


def test_a_key_is_created_used_within_its_scopes_and_revoked(fresh_server: Callable[[str], LiveServer], sdk: SdkDriver) -> None:
    server = fresh_server("roost")
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("collection", f"pb.collections.create({POSTS})"),
        step("record", "pb.collection('notes').create({title: 'hello'})"),
        step("create key", "pb.send('/api/keys', {method: 'POST', body: {name: 'svc', scopes: ['notes:list']}})", save="key"),
        step("list keys", "pb.send('/api/keys', {})"),
        step("list with key", _with_key("'/api/collections/notes/records'")),
        code("create with key", "return await client('svc').send('/api/collections/notes/records', "
                                "{method: 'POST', body: {title: 'x'}, headers: {'X-API-Key': vars.key.key}})"),
        step("guest keys", "client('guest').send('/api/keys', {})"),
        step("revoke", "pb.send('/api/keys/' + vars.key.id, {method: 'DELETE'})"),
        step("list after revoke", _with_key("'/api/collections/notes/records'")),
    ])  # fmt: skip
    assert run["create key"].value["key"].startswith("rk_")
    listed = run["list keys"].value
    assert [k["name"] for k in listed] == ["svc"] and "key" not in listed[0]
    assert [item["title"] for item in run["list with key"].value["items"]] == ["hello"]
    assert run["create with key"].status == 403
    assert run["create with key"].response["message"] == "The API key has no scope for this action."
    assert run["guest keys"].status == 401
    assert run["revoke"].ok
    assert run["list after revoke"].status == 401
