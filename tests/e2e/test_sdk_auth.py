"""Superuser auth, collection management, sign-up and login through the official JS SDK."""

from __future__ import annotations

from .sdk import SdkDriver, js, step, superuser_login
from .servers import LiveServer


def test_superuser_auth_refresh_and_logout(server: LiveServer, sdk: SdkDriver) -> None:
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("store", "({isValid: pb.authStore.isValid, isSuperuser: pb.authStore.isSuperuser,"
                      " email: pb.authStore.record.email})"),
        step("refresh", "pb.collection('_superusers').authRefresh()"),
        step("health", "pb.health.check()"),
        step("wrong password", f"client('other').collection('_superusers').authWithPassword("
                               f"{js(server.superuser_email)}, 'not-the-password')"),
        step("logout", "(pb.authStore.clear(), pb.authStore.isValid)"),
        step("guest lists collections", "pb.collections.getList(1, 5)"),
    ])
    login = run["superuser login (default)"].value
    assert login["record"]["email"] == server.superuser_email
    assert login["record"]["collectionName"] == "_superusers"
    assert login["record"]["collectionId"] == "pbc_3142635823"
    assert login["token"].count(".") == 2
    assert run["store"].value == {"isValid": True, "isSuperuser": True, "email": server.superuser_email}
    assert run["refresh"].value["record"]["id"] == login["record"]["id"]
    assert run["health"].value["message"] == "API is healthy."
    assert run["wrong password"].status == 400
    assert run["wrong password"].response["message"] == "Failed to authenticate."
    assert run["logout"].value is False
    assert run["guest lists collections"].status == 401


def test_collection_create_update_truncate_delete(server: LiveServer, sdk: SdkDriver) -> None:
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("scaffolds", "pb.collections.getScaffolds().then(s => Object.keys(s).sort())"),
        step("create", "pb.collections.create({name: 'sdk_books', listRule: null, fields: ["
                       "{name: 'title', type: 'text', required: true}, {name: 'pages', type: 'number'}]})",
             save="books"),
        step("view", "pb.collections.getOne('sdk_books')"),
        step("update", "pb.collections.update(vars.books.id, {listRule: '', viewRule: '',"
                       " fields: [...vars.books.fields, {name: 'isbn', type: 'text', max: 13}]})"),
        step("add record", "pb.collection('sdk_books').create({title: 'Dune', pages: 412, isbn: '9780441013593'})"),
        step("guest list", "client('guest').collection('sdk_books').getList(1, 10)"),
        step("list filtered", "pb.collections.getFullList({filter: \"name ~ 'sdk_books'\"})"
                              ".then(list => list.map(c => c.name))"),
        step("duplicate", "pb.collections.create({name: 'SDK_BOOKS'})"),
        step("truncate", "pb.collections.truncate('sdk_books')"),
        step("empty after truncate", "pb.collection('sdk_books').getList(1, 10).then(r => r.totalItems)"),
        step("delete", "pb.collections.delete('sdk_books')"),
        step("gone", "pb.collections.getOne('sdk_books')"),
    ])
    assert run["scaffolds"].value == ["auth", "base", "view"]
    created = run["create"].value
    assert created["name"] == "sdk_books" and created["type"] == "base"
    assert [f["name"] for f in created["fields"]] == ["id", "title", "pages"]
    assert run["view"].value["id"] == created["id"]
    updated = run["update"].value
    assert updated["listRule"] == ""
    assert [f["name"] for f in updated["fields"]] == ["id", "title", "pages", "isbn"]
    guest = run["guest list"].value
    assert guest["totalItems"] == 1
    assert guest["items"][0]["title"] == "Dune" and guest["items"][0]["isbn"] == "9780441013593"
    assert run["list filtered"].value == ["sdk_books"]
    assert run["duplicate"].status == 400
    assert run["duplicate"].error_codes() == {"name": "validation_collection_name_exists"}
    assert run["truncate"].value is True
    assert run["empty after truncate"].value == 0
    assert run["delete"].value is True
    assert run["gone"].status == 404


def test_sign_up_login_refresh_and_profile_update(server: LiveServer, sdk: SdkDriver) -> None:
    email = f"sdk-{server.kind}@example.com"
    run = sdk.run(server.base_url, [
        step("auth methods", "pb.collection('users').listAuthMethods()"),
        step("sign up", f"pb.collection('users').create({{email: {js(email)}, password: 'secret-pass-1',"
                        " passwordConfirm: 'secret-pass-1', name: 'Sdk User'})", save="user"),
        step("sign up again", f"pb.collection('users').create({{email: {js(email)},"
                              " password: 'secret-pass-1', passwordConfirm: 'secret-pass-1'})"),
        step("mismatch", "pb.collection('users').create({email: 'other@example.com',"
                         " password: 'secret-pass-1', passwordConfirm: 'secret-pass-2'})"),
        step("login", f"pb.collection('users').authWithPassword({js(email)}, 'secret-pass-1')"),
        step("store", "({id: pb.authStore.record.id, valid: pb.authStore.isValid,"
                      " superuser: pb.authStore.isSuperuser})"),
        step("refresh", "pb.collection('users').authRefresh()"),
        step("rename", "pb.collection('users').update(pb.authStore.record.id, {name: 'Renamed'})"),
        step("store after update", "pb.authStore.record.name"),
        step("reset request", f"pb.collection('users').requestPasswordReset({js(email)})"),
        step("bad login", f"client('other').collection('users').authWithPassword({js(email)}, 'wrong-pass')"),
    ])
    methods = run["auth methods"].value
    assert methods["password"] == {"enabled": True, "identityFields": ["email"]}
    assert methods["oauth2"]["enabled"] is False
    user = run["sign up"].value
    assert user["name"] == "Sdk User" and user["verified"] is False
    assert "password" not in user and "tokenKey" not in user
    assert "email" not in user  # emailVisibility is false and the guest is not the owner
    assert run["sign up again"].error_codes() == {"email": "validation_not_unique"}
    assert run["mismatch"].error_codes() == {"passwordConfirm": "validation_values_mismatch"}
    login = run["login"].value
    assert login["record"]["id"] == user["id"] and login["record"]["email"] == email
    assert run["store"].value == {"id": user["id"], "valid": True, "superuser": False}
    assert run["refresh"].value["record"]["id"] == user["id"]
    assert run["rename"].value["name"] == "Renamed"
    assert run["store after update"].value == "Renamed"
    assert run["reset request"].value is True
    assert run["bad login"].status == 400
