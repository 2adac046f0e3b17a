"""OAuth2 through the official JS SDK, against a loopback OpenID Connect provider configured
as the generic ``oidc`` provider: the manual code flow and the all-in-one realtime flow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oauth_provider import ProviderServer

from .pairs import instance_pair
from .sdk import SdkDriver, code, js, step, superuser_login
from .servers import LiveServer

REDIRECT = "http://127.0.0.1:9/oauth-callback"


@pytest.fixture(scope="module")
def idp() -> Iterator[ProviderServer]:
    server = ProviderServer().start()
    yield server
    server.stop()


def _authorize(redirect: str) -> str:
    # follow the provider's auto-approval by hand: the Location holds code and state
    return (
        "const p = vars.methods.oauth2.providers.find(p => p.name === 'oidc');"
        f"const r = await fetch(p.authURL + encodeURIComponent({js(redirect)}), {{redirect: 'manual'}});"
        "const u = new URL(r.headers.get('location'));"
        "return {code: u.searchParams.get('code'), state: u.searchParams.get('state'), expected: p.state,"
        " verifier: p.codeVerifier};"
    )


def test_manual_code_flow(server: LiveServer, sdk: SdkDriver, idp: ProviderServer) -> None:
    provider = idp.provider
    provider.add_user(
        "sdk-user-" + server.kind, f"sdk-{server.kind}@example.com", name="Sdk Person"
    )
    config = provider.oidc_config()
    users = "client('guest').collection('users')"
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("enable", f"pb.collections.update('users', {{oauth2: {{enabled: true, providers: [{js(config)}]}}}})"),
        step("methods", f"{users}.listAuthMethods()", save="methods"),
        code("authorize", _authorize(REDIRECT), save="grant"),
        step("login", f"{users}.authWithOAuth2Code('oidc', vars.grant.code, vars.grant.verifier, {js(REDIRECT)})"),
        step("store", "({valid: client('guest').authStore.isValid, email: client('guest').authStore.record.email})"),
        code("authorize again", _authorize(REDIRECT), save="grant2"),
        step("login again", f"{users}.authWithOAuth2Code('oidc', vars.grant2.code, vars.grant2.verifier, {js(REDIRECT)})"),
        code("authorize for bad verifier", _authorize(REDIRECT), save="grant3"),
        step("bad verifier", f"client('x').collection('users').authWithOAuth2Code('oidc', vars.grant3.code,"
                             f" 'x'.repeat(43), {js(REDIRECT)})"),
        step("unknown provider", f"client('x').collection('users').authWithOAuth2Code('github', 'c', 'v', {js(REDIRECT)})"),
    ])  # fmt: skip
    assert run["enable"].ok, run["enable"].response
    [entry] = run["methods"].value["oauth2"]["providers"]
    assert entry["authURL"].endswith("&redirect_uri=") and entry["codeChallengeMethod"] == "S256"
    grant = run["authorize"].value
    assert grant["state"] == grant["expected"]
    login = run["login"].value
    assert (
        login["record"]["email"] == f"sdk-{server.kind}@example.com"
        and login["record"]["verified"] is True
    )
    assert login["record"]["name"] == "Sdk Person"
    assert login["meta"]["isNew"] is True and login["meta"]["email"] == login["record"]["email"]
    assert set(login["meta"]) >= {"id", "name", "username", "email", "avatarURL", "accessToken", "refreshToken",
                                  "expiry", "rawUser", "isNew"}  # fmt: skip
    assert run["store"].value == {"valid": True, "email": login["record"]["email"]}
    again = run["login again"].value
    assert again["meta"]["isNew"] is False and again["record"]["id"] == login["record"]["id"]
    assert run["bad verifier"].status == 400
    assert run["bad verifier"].response["message"] == "Failed to fetch OAuth2 token."
    assert run["unknown provider"].status == 400
    assert run["unknown provider"].error_codes()["provider"] == "validation_invalid_provider"


def test_all_in_one_realtime_flow(server: LiveServer, sdk: SdkDriver, idp: ProviderServer) -> None:
    provider = idp.provider
    provider.add_user("popup-" + server.kind, f"popup-{server.kind}@example.com")
    config = provider.oidc_config()
    # the "popup": open the provider URL, then follow its redirect to /api/oauth2-redirect
    popup = (
        "async (url) => { const r = await fetch(url, {redirect: 'manual'});"
        " await fetch(r.headers.get('location'), {redirect: 'manual'}); }"
    )
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("enable", f"pb.collections.update('users', {{oauth2: {{enabled: true, providers: [{js(config)}]}}}})"),
        step("login", f"client('popup').collection('users').authWithOAuth2({{provider: 'oidc', urlCallback: {popup}}})"),
        step("store", "client('popup').authStore.record.email"),
    ])  # fmt: skip
    assert run["enable"].ok, run["enable"].response
    assert run["login"].ok, (run["login"].response, run["login"].value)
    assert run["login"].value["record"]["email"] == f"popup-{server.kind}@example.com"
    assert run["store"].value == f"popup-{server.kind}@example.com"


def test_all_in_one_flow_when_the_redirect_lands_on_another_instance(
    sdk: SdkDriver, idp: ProviderServer, tmp_path: Path
) -> None:
    """Behind a load balancer the provider's redirect may reach B while the SDK's stream is on A."""
    provider = idp.provider
    provider.add_user("routed-popup", "routed-popup@example.com")
    config = provider.oidc_config()
    with instance_pair(tmp_path, "redis") as (a, b):
        popup = (
            "async (url) => { const r = await fetch(url, {redirect: 'manual'});"
            f" const back = r.headers.get('location').replace({js(a.base_url)}, {js(b.base_url)});"
            " if (!back.startsWith(" + js(b.base_url) + ")) throw new Error('redirect not rerouted: ' + back);"
            " await fetch(back, {redirect: 'manual'}); }"
        )
        run = sdk.run(a.base_url, [
            superuser_login(a),
            step("enable", f"pb.collections.update('users', {{oauth2: {{enabled: true, providers: [{js(config)}]}}}})"),
            code("wait for B", "await new Promise(r => setTimeout(r, 500)); return true;"),
            step("login", f"client('popup').collection('users').authWithOAuth2({{provider: 'oidc', urlCallback: {popup}}})"),
        ])  # fmt: skip
    assert run["enable"].ok, run["enable"].response
    assert run["login"].ok, (run["login"].response, run["login"].value)
    assert run["login"].value["record"]["email"] == "routed-popup@example.com"
