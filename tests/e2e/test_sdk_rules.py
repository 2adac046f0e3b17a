"""Rule outcomes through the JS SDK for a guest, the owner, another user and a superuser."""

from __future__ import annotations

import pytest

from .sdk import SdkDriver, SdkRun, code, js, step, superuser_login
from .servers import LiveServer

OWNER_RULE = "owner = @request.auth.id"


@pytest.fixture(scope="module")
def world(server: LiveServer, sdk: SdkDriver) -> SdkRun:
    """Two users, an owner-only collection with one record per user and a locked collection."""
    run = sdk.run(server.base_url, [
        superuser_login(server, "su"),
        code("schema", f"""
            const su = client('su');
            await su.collections.create({{name: 'rule_notes', listRule: {js(OWNER_RULE)},
              viewRule: {js(OWNER_RULE)}, updateRule: {js(OWNER_RULE)}, deleteRule: {js(OWNER_RULE)},
              createRule: "@request.auth.id != '' && owner = @request.auth.id",
              fields: [{{name: 'text', type: 'text'}},
                       {{name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1}}]}});
            await su.collections.create({{name: 'rule_locked', fields: [{{name: 'text', type: 'text'}}]}});
            await su.collections.create({{name: 'rule_public', listRule: '', viewRule: '',
              createRule: "@request.body.text:lower != 'spam'", updateRule: "@request.body.text:changed = false",
              deleteRule: null, fields: [{{name: 'text', type: 'text'}}]}});
            return true;"""),
        code("users", """
            const out = {};
            for (const name of ['alice', 'bob']) {
              const email = `${name}@rules.example.com`;
              await client(name).collection('users').create({email, password: 'rules-pass-1',
                passwordConfirm: 'rules-pass-1', name});
              const auth = await client(name).collection('users').authWithPassword(email, 'rules-pass-1');
              out[name] = auth.record.id;
            }
            return out;"""),
        code("notes", """
            const out = {};
            for (const name of ['alice', 'bob']) {
              out[name] = (await client(name).collection('rule_notes').create(
                {text: `${name}'s note`, owner: client(name).authStore.record.id})).id;
            }
            out.locked = (await client('su').collection('rule_locked').create({text: 'secret'})).id;
            out.public = (await client('su').collection('rule_public').create({text: 'hello'})).id;
            return out;"""),
    ])
    return run


def _logins(server: LiveServer) -> list[dict[str, str]]:
    return [
        superuser_login(server, "su"),
        step("alice login", "client('alice').collection('users').authWithPassword("
                            "'alice@rules.example.com', 'rules-pass-1')"),
        step("bob login", "client('bob').collection('users').authWithPassword("
                          "'bob@rules.example.com', 'rules-pass-1')"),
    ]


def test_owner_rules(server: LiveServer, sdk: SdkDriver, world: SdkRun) -> None:
    notes = world["notes"].value
    users = world["users"].value
    alice_note = js(notes["alice"])
    run = sdk.run(server.base_url, [
        *_logins(server),
        step("guest list", "client('guest').collection('rule_notes').getList()"),
        step("alice list", "client('alice').collection('rule_notes').getFullList({fields: 'text'})"),
        step("su list", "client('su').collection('rule_notes').getFullList({sort: 'text', fields: 'text'})"),
        step("guest view", f"client('guest').collection('rule_notes').getOne({alice_note})"),
        step("bob view", f"client('bob').collection('rule_notes').getOne({alice_note})"),
        step("alice view", f"client('alice').collection('rule_notes').getOne({alice_note})"),
        step("bob update", f"client('bob').collection('rule_notes').update({alice_note}, {{text: 'x'}})"),
        step("alice update", f"client('alice').collection('rule_notes').update({alice_note}, {{text: 'edited'}})"),
        step("guest create", f"client('guest').collection('rule_notes').create({{text: 'g', owner: {js(users['alice'])}}})"),
        step("bob creates for alice", f"client('bob').collection('rule_notes').create({{text: 'b', owner: {js(users['alice'])}}})"),
        step("bob delete", f"client('bob').collection('rule_notes').delete({alice_note})"),
        step("su view", f"client('su').collection('rule_notes').getOne({alice_note})"),
        step("bob sees alice user", f"client('bob').collection('users').getOne({js(users['alice'])})"),
        step("alice sees herself", f"client('alice').collection('users').getOne({js(users['alice'])})"),
        step("bob filters by request", "client('bob').collection('rule_notes').getList(1, 5,"
                                       " {filter: \"@request.auth.id != ''\"})"),
    ])
    assert run["guest list"].value["items"] == []
    assert run["alice list"].value == [{"text": "alice's note"}]
    assert run["su list"].value == [{"text": "alice's note"}, {"text": "bob's note"}]
    assert run["guest view"].status == 404
    assert run["bob view"].status == 404
    assert run["alice view"].value["text"] == "alice's note"
    assert run["bob update"].status == 404
    assert run["alice update"].value["text"] == "edited"
    for name in ("guest create", "bob creates for alice"):
        assert run[name].status == 400
        assert run[name].response == {"data": {}, "message": "Failed to create record.", "status": 400}
    assert run["bob delete"].status == 404
    assert run["su view"].value["text"] == "edited"
    assert run["bob sees alice user"].status == 404
    assert run["alice sees herself"].value["email"] == "alice@rules.example.com"
    assert run["bob filters by request"].status == 403
    assert run["bob filters by request"].response["message"] == "Only superusers can filter by @request."


def test_locked_and_modifier_rules(server: LiveServer, sdk: SdkDriver, world: SdkRun) -> None:
    notes = world["notes"].value
    run = sdk.run(server.base_url, [
        *_logins(server),
        step("alice list locked", "client('alice').collection('rule_locked').getList()"),
        step("guest view locked", f"client('guest').collection('rule_locked').getOne({js(notes['locked'])})"),
        step("alice create locked", "client('alice').collection('rule_locked').create({text: 'x'})"),
        step("su list locked", "client('su').collection('rule_locked').getFullList({fields: 'text'})"),
        step("guest create spam", "client('guest').collection('rule_public').create({text: 'SPAM'})"),
        step("guest create ham", "client('guest').collection('rule_public').create({text: 'ham'})"),
        step("guest change text", f"client('guest').collection('rule_public').update({js(notes['public'])}, {{text: 'new'}})"),
        step("guest same text", f"client('guest').collection('rule_public').update({js(notes['public'])}, {{text: 'hello'}})"),
        step("guest delete public", f"client('guest').collection('rule_public').delete({js(notes['public'])})"),
        step("su delete public", f"client('su').collection('rule_public').delete({js(notes['public'])})"),
    ])
    for name in ("alice list locked", "guest view locked", "alice create locked", "guest delete public"):
        assert run[name].status == 403, name
        assert run[name].response["message"] == "Only superusers can perform this action."
    assert run["su list locked"].value == [{"text": "secret"}]
    assert run["guest create spam"].status == 400
    assert run["guest create ham"].value["text"] == "ham"
    assert run["guest change text"].status == 404
    assert run["guest same text"].value["text"] == "hello"
    assert run["su delete public"].value is True
