"""Passkeys (a Roost addition) through the official JS SDK's ``pb.send`` against a live Roost;
the browser's part is played by the software authenticator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.webauthn_authenticator import SoftAuthenticator

from .sdk import SdkDriver, js, step, superuser_login
from .servers import LiveServer

U = "/api/collections/users/"
EMAIL = "sdk-passkey@example.com"


def _user_login() -> dict[str, str]:
    return step("login", f"pb.collection('users').authWithPassword({js(EMAIL)}, 'secret-pass-1')")


def _send(name: str, path: str, body: Any = None, *, save: str | None = None) -> dict[str, str]:
    return step(name, f"pb.send({js(U + path)}, {{method: 'POST', body: {js(body or {})}}})", save=save)


@pytest.mark.parametrize("kind", ["roost", "roost-pg"])
def test_register_and_log_in_with_the_sdk(kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver) -> None:
    server = fresh_server(kind)
    device = SoftAuthenticator("http://localhost:8090")
    setup = sdk.run(server.base_url, [
        superuser_login(server),
        step("enable", "pb.collections.update('users', {passkey: {enabled: true}})"),
        step("sign up", f"pb.collection('users').create({{email: {js(EMAIL)}, password: 'secret-pass-1',"
                        " passwordConfirm: 'secret-pass-1'})"),
        _user_login(),
        _send("registration options", "passkeys/registration-options"),
    ])  # fmt: skip
    assert setup["enable"].value["passkey"] == {"enabled": True}
    credential = device.create(setup["registration options"].value)
    registered = sdk.run(server.base_url, [
        _user_login(),
        _send("register", "passkeys", {"credential": credential, "name": "sdk key"}),
        step("list", f"pb.send({js(U + 'passkeys')}, {{method: 'GET'}})"),
        step("logout", "(pb.authStore.clear(), pb.authStore.isValid)"),
        _send("login options", "request-passkey-options", {"identity": EMAIL}),
    ])  # fmt: skip
    assert registered["register"].value["name"] == "sdk key"
    assert [p["credentialId"] for p in registered["list"].value] == [credential["id"]]
    assertion = device.get(registered["login options"].value)
    login = sdk.run(server.base_url, [
        step("auth", f"pb.send({js(U + 'auth-with-passkey')}, {{method: 'POST', body: {js({'credential': assertion})}}})"
                     ".then(r => (pb.authStore.save(r.token, r.record), r))"),
        step("refresh", "pb.collection('users').authRefresh()"),
        step("replay", f"pb.send({js(U + 'auth-with-passkey')}, {{method: 'POST', body: {js({'credential': assertion})}}})"),
    ])  # fmt: skip
    assert login["auth"].value["record"]["email"] == EMAIL
    assert login["refresh"].value["record"]["email"] == EMAIL
    assert login["replay"].status == 400
    assert login["replay"].response["message"] == "Invalid or expired passkey challenge."
