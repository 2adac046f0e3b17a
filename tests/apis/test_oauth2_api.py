"""OAuth2 / OIDC login against a live loopback provider (tests/oauth_provider.py)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.conftest import Api
from tests.oauth_provider import LocalProvider, ProviderServer

REDIRECT = "http://app.test/oauth-callback"


@pytest.fixture(scope="module")
def idp_server() -> Iterator[ProviderServer]:
    server = ProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def idp(idp_server: ProviderServer) -> LocalProvider:
    idp_server.provider.reset()
    return idp_server.provider


async def enable(api: Api, idp: LocalProvider, *entries: dict[str, Any], **block: Any) -> None:
    providers = list(entries) or [idp.oidc_config()]
    res = await api.su(
        "PATCH",
        "/api/collections/users",
        json={"oauth2": {"enabled": True, "providers": providers, **block}},
    )
    assert res.status_code == 200, res.text


async def provider_entry(api: Api, name: str = "oidc") -> dict[str, Any]:
    res = await api.call("GET", "/api/collections/users/auth-methods")
    assert res.status_code == 200, res.text
    return next(p for p in res.json()["oauth2"]["providers"] if p["name"] == name)


async def authorize(entry: dict[str, Any], redirect: str = REDIRECT) -> str:
    async with httpx.AsyncClient() as http:
        res = await http.get(entry["authURL"] + quote(redirect, safe=""))
    assert res.status_code == 302, res.text
    query = parse_qs(urlsplit(res.headers["location"]).query)
    assert query["state"] == [entry["state"]]
    return query["code"][0]


async def sign_in(api: Api, name: str = "oidc", *, token: str | None = None, verifier: str | None = None,
                  redirect: str = REDIRECT, create_data: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
    entry = await provider_entry(api, name)
    code = await authorize(entry, redirect)
    body: dict[str, Any] = {"provider": name, "code": code, "redirectURL": REDIRECT,
                            "codeVerifier": entry["codeVerifier"] if verifier is None else verifier}  # fmt: skip
    if create_data is not None:
        body["createData"] = create_data
    return await api.call("POST", "/api/collections/users/auth-with-oauth2", token=token, json=body)


async def links_of(api: Api, record_id: str) -> list[dict[str, Any]]:
    res = await api.su(
        "GET",
        "/api/collections/_externalAuths/records",
        params={"filter": f"recordRef='{record_id}'"},
    )
    items: list[dict[str, Any]] = res.json()["items"]
    return items


async def password_user(api: Api, email: str, *, verified: bool) -> str:
    body = {
        "email": email,
        "password": "password123",
        "passwordConfirm": "password123",
        "verified": verified,
    }
    res = await api.su("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return str(res.json()["id"])


# ----- auth-methods and the provider catalogue -------------------------------------------------
async def test_auth_methods_lists_providers_with_pkce(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp)
    body = (await api.call("GET", "/api/collections/users/auth-methods")).json()
    assert body["oauth2"]["enabled"] is True
    [entry] = body["oauth2"]["providers"]
    assert list(entry) == ["name", "displayName", "logo", "state", "authURL", "authUrl", "codeVerifier",
                           "codeChallenge", "codeChallengeMethod"]  # fmt: skip
    assert entry["authURL"].endswith("&redirect_uri=") and len(entry["state"]) == 30
    digest = (
        base64.urlsafe_b64encode(hashlib.sha256(entry["codeVerifier"].encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    assert entry["codeChallenge"] == digest and entry["codeChallengeMethod"] == "S256"
    assert (
        body["authProviders"][0]["logo"] == ""
        and body["authProviders"][0]["state"] == entry["state"]
    )


async def test_pkce_can_be_turned_off(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp, idp.oidc_config(pkce=False))
    entry = await provider_entry(api)
    assert (entry["codeVerifier"], entry["codeChallenge"], entry["codeChallengeMethod"]) == (
        "",
        "",
        "",
    )
    assert "code_challenge" not in entry["authURL"]
    idp.add_user("u-nopkce", "nopkce@example.com")
    assert (await sign_in(api)).status_code == 200


async def test_provider_catalogue_is_for_superusers(api: Api) -> None:
    assert (await api.call("GET", "/api/collections/meta/oauth2-providers")).status_code == 401
    names = [
        p["name"] for p in (await api.su("GET", "/api/collections/meta/oauth2-providers")).json()
    ]
    assert {
        "google",
        "github",
        "gitlab",
        "microsoft",
        "discord",
        "apple",
        "oidc",
        "oidc2",
        "oidc3",
    } <= set(names)


# ----- sign-up, login and linking ---------------------------------------------------------------
async def test_new_user_signs_up_verified_and_linked(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp, mappedFields={"name": "name"})
    idp.add_user("u-1", "new@example.com", name="New Person")
    res = await sign_in(api)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["record"]["email"] == "new@example.com" and body["record"]["verified"] is True
    assert body["record"]["name"] == "New Person"
    meta = body["meta"]
    assert meta["isNew"] is True and meta["id"] == "u-1" and meta["email"] == "new@example.com"
    assert meta["accessToken"] and meta["refreshToken"] and meta["expiry"].endswith("Z")
    assert meta["rawUser"]["sub"] == "u-1" and "password" not in body["record"]
    [link] = await links_of(api, body["record"]["id"])
    assert (link["provider"], link["providerId"]) == ("oidc", "u-1")
    again = await sign_in(api)
    assert again.status_code == 200 and again.json()["meta"]["isNew"] is False
    assert again.json()["record"]["id"] == body["record"]["id"]
    assert len(await links_of(api, body["record"]["id"])) == 1


async def test_signed_in_record_gets_the_link(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp)
    own_id = await password_user(api, "me@example.com", verified=False)
    token = await api.login("users", "me@example.com", "password123")
    idp.add_user("u-other", "someone-else@example.com")
    res = await sign_in(api, token=token)
    assert res.status_code == 200, res.text
    assert res.json()["record"]["id"] == own_id and res.json()["record"]["verified"] is False
    assert [link["providerId"] for link in await links_of(api, own_id)] == ["u-other"]
    await api.login(
        "users", "me@example.com", "password123"
    )  # the signed-in user keeps the password


async def test_verified_provider_email_links_to_existing_verified_record(
    api: Api, idp: LocalProvider
) -> None:
    await enable(api, idp)
    own_id = await password_user(api, "known@example.com", verified=True)
    idp.add_user("u-known", "Known@Example.com")
    res = await sign_in(api)
    assert res.status_code == 200 and res.json()["record"]["id"] == own_id
    await api.login("users", "known@example.com", "password123")


# ----- account takeover guards ------------------------------------------------------------------
async def test_unverified_provider_email_never_reaches_an_existing_account(
    api: Api, idp: LocalProvider
) -> None:
    await enable(api, idp)
    victim = await password_user(api, "victim@example.com", verified=True)
    idp.add_user("attacker", "victim@example.com", verified=False)
    res = await sign_in(api)
    assert res.status_code == 400  # no trusted e-mail: the sign-up lacks an address
    assert "token" not in res.json()
    res = await sign_in(api, create_data={"email": "victim@example.com"})
    assert res.status_code == 400 and res.json()["data"]["email"]["code"] == "validation_not_unique"
    assert await links_of(api, victim) == []
    await api.login("users", "victim@example.com", "password123")


async def test_pre_registered_unverified_account_is_reset_on_claim(
    api: Api, idp: LocalProvider
) -> None:
    await enable(api, idp)
    squatted = await password_user(api, "owner@example.com", verified=False)
    attacker_token = await api.login("users", "owner@example.com", "password123")
    idp.add_user("owner", "owner@example.com")
    res = await sign_in(api)
    assert res.status_code == 200 and res.json()["record"]["id"] == squatted
    assert res.json()["record"]["verified"] is True
    failed = await api.call("POST", "/api/collections/users/auth-with-password",
                            json={"identity": "owner@example.com", "password": "password123"})  # fmt: skip
    assert failed.status_code == 400
    refreshed = await api.call("POST", "/api/collections/users/auth-refresh", token=attacker_token)
    assert refreshed.status_code == 401  # the squatter's session died with the password


async def test_create_data_email_cannot_pre_hijack_through_another_provider(
    api: Api, idp: LocalProvider
) -> None:
    second = idp.oidc_config("oidc2")
    await enable(api, idp, idp.oidc_config(), second)
    idp.add_user("att", "att@example.com")
    res = await sign_in(api, create_data={"email": "target@example.com"})
    assert res.status_code == 200, res.text
    planted = res.json()["record"]
    assert planted["email"] == "target@example.com" and planted["verified"] is False
    idp.add_user("target", "target@example.com")
    res = await sign_in(api, "oidc2")
    assert res.status_code == 200 and res.json()["record"]["id"] == planted["id"]
    assert [(x["provider"], x["providerId"]) for x in await links_of(api, planted["id"])] == [
        ("oidc2", "target")
    ]
    idp.approve_as = "att"
    res = await sign_in(api)
    assert res.status_code == 200 and res.json()["record"]["id"] != planted["id"]


# ----- protocol failures -------------------------------------------------------------------------
async def test_wrong_pkce_verifier_is_refused(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp)
    idp.add_user("u-pkce", "pkce@example.com")
    res = await sign_in(api, verifier="x" * 43)
    assert res.status_code == 400 and res.json()["message"] == "Failed to fetch OAuth2 token."


async def test_redirect_uri_must_match_the_authorization_request(
    api: Api, idp: LocalProvider
) -> None:
    await enable(api, idp)
    idp.add_user("u-redir", "redir@example.com")
    res = await sign_in(api, redirect="http://evil.test/cb")
    assert res.status_code == 400 and res.json() == {
        "data": {},
        "message": "Failed to fetch OAuth2 token.",
        "status": 400,
    }


async def test_code_is_single_use(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp)
    idp.add_user("u-once", "once@example.com")
    entry = await provider_entry(api)
    body = {
        "provider": "oidc",
        "code": await authorize(entry),
        "codeVerifier": entry["codeVerifier"],
        "redirectURL": REDIRECT,
    }
    assert (
        await api.call("POST", "/api/collections/users/auth-with-oauth2", json=body)
    ).status_code == 200
    assert (
        await api.call("POST", "/api/collections/users/auth-with-oauth2", json=body)
    ).status_code == 400


@pytest.mark.parametrize("failure", ["error", "500", "html"])
async def test_token_endpoint_failures_are_clean_400s(
    api: Api, idp: LocalProvider, failure: str
) -> None:
    await enable(api, idp)
    idp.add_user("u-fail", "fail@example.com")
    idp.fail_token = failure
    res = await sign_in(api)
    assert res.status_code == 400 and res.json()["message"] == "Failed to fetch OAuth2 token."


async def test_user_info_failure_is_a_clean_400(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp)
    idp.add_user("u-info", "info@example.com")
    idp.fail_userinfo = True
    res = await sign_in(api)
    assert res.status_code == 400 and res.json()["message"] == "Failed to fetch OAuth2 user."


async def test_id_token_from_another_issuer_is_refused(api: Api, idp: LocalProvider) -> None:
    entry = idp.oidc_config(userInfoURL="")
    entry["extra"]["issuers"] = ["https://issuer.example"]
    await enable(api, idp, entry)
    idp.add_user("u-iss", "iss@example.com")
    res = await sign_in(api)
    assert res.status_code == 400 and res.json()["message"] == "Failed to fetch OAuth2 user."


async def test_id_token_only_provider_and_discovery(api: Api, idp: LocalProvider) -> None:
    discovered = {"name": "oidc3", "clientId": "roost-test-client", "clientSecret": "roost-test-secret",
                  "extra": {"discoveryURL": f"{idp.base_url}/.well-known/openid-configuration"}}  # fmt: skip
    await enable(api, idp, idp.oidc_config(userInfoURL=""), discovered)
    idp.add_user("u-idt", "idt@example.com", name="Id Token")
    res = await sign_in(api)
    assert res.status_code == 200 and res.json()["meta"]["name"] == "Id Token"
    res = await sign_in(api, "oidc3")
    assert res.status_code == 200 and res.json()["meta"]["isNew"] is False


# ----- sign-up rules and mapped fields -----------------------------------------------------------
async def test_create_rule_blocks_sign_up(api: Api, idp: LocalProvider) -> None:
    await api.su(
        "PATCH", "/api/collections/users", json={"createRule": "@request.body.name = 'allowed'"}
    )
    await enable(api, idp)
    idp.add_user("u-rule", "rule@example.com")
    res = await sign_in(api)
    assert res.status_code == 400 and res.json()["message"] == "Failed to create record."
    res = await sign_in(api, create_data={"name": "allowed"})
    assert res.status_code == 200 and res.json()["record"]["name"] == "allowed"


async def test_create_rule_sees_the_oauth2_context(api: Api, idp: LocalProvider) -> None:
    await api.su(
        "PATCH", "/api/collections/users", json={"createRule": "@request.context = 'oauth2'"}
    )
    await enable(api, idp)
    idp.add_user("u-ctx", "ctx@example.com")
    assert (await sign_in(api)).status_code == 200
    body = {
        "email": "plain@example.com",
        "password": "password123",
        "passwordConfirm": "password123",
    }
    assert (await api.call("POST", "/api/collections/users/records", json=body)).status_code == 400


async def test_mapped_avatar_is_downloaded_only_from_allowed_hosts(
    api: Api, idp: LocalProvider
) -> None:
    from roost.core.auth.oauth2_runtime import runtime

    await enable(api, idp, mappedFields={"name": "name", "avatarURL": "avatar"})
    idp.add_user("u-av1", "av1@example.com", name="A", picture=f"{idp.base_url}/avatar.png")
    res = await sign_in(api)
    assert (
        res.status_code == 200 and res.json()["record"]["avatar"] == ""
    )  # loopback is not fetched
    runtime(api.app).allow_private_avatar_hosts = True
    idp.add_user("u-av2", "av2@example.com", name="B", picture=f"{idp.base_url}/avatar.png")
    res = await sign_in(api)
    assert res.status_code == 200 and res.json()["record"]["avatar"].startswith("avatar")


async def test_github_uses_the_verified_primary_email(api: Api, idp: LocalProvider) -> None:
    b = idp.base_url
    github = idp.oidc_config(
        "github",
        authURL=f"{b}/authorize",
        tokenURL=f"{b}/token",
        userInfoURL=f"{b}/github/user",
        extra={},
    )
    await enable(api, idp, github)
    idp.add_user("101", "", preferred_username="octo", emails=[
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "octo@example.com", "primary": True, "verified": True},
    ])  # fmt: skip
    res = await sign_in(api, "github")
    assert res.status_code == 200, res.text
    assert (
        res.json()["meta"]["email"] == "octo@example.com"
        and res.json()["meta"]["username"] == "octo"
    )
    idp.add_user(
        "102", "", emails=[{"email": "unverified@example.com", "primary": True, "verified": False}]
    )
    res = await sign_in(api, "github", create_data={"email": "unverified@example.com"})
    assert res.status_code == 200 and res.json()["meta"]["email"] == ""
    assert res.json()["record"]["verified"] is False


# ----- request validation ------------------------------------------------------------------------
async def test_request_validation(api: Api, idp: LocalProvider) -> None:
    url = "/api/collections/users/auth-with-oauth2"
    res = await api.call("POST", url, json={"provider": "oidc", "code": "x"})
    assert (
        res.status_code == 403
        and res.json()["message"]
        == "The collection is not configured to allow OAuth2 authentication."
    )
    await enable(api, idp)
    res = await api.call("POST", url, json={"provider": "github"})
    assert (
        res.status_code == 400
        and res.json()["message"] == "An error occurred while loading the submitted data."
    )
    assert res.json()["data"] == {
        "code": {"code": "validation_required", "message": "Cannot be blank."},
        "provider": {"code": "validation_invalid_provider", "message": "Provider with name github is missing or is not enabled.",
                     "params": {"name": "github"}},
    }  # fmt: skip
    res = await api.call("POST", url, json={"provider": "oidc", "code": 1})
    assert res.status_code == 400 and res.json()["data"] == {}
    assert (await api.call("POST", "/api/collections/nosuch/auth-with-oauth2", json={})).json()[
        "message"
    ] == ("Missing or invalid collection context.")


# ----- collection options ------------------------------------------------------------------------
async def test_collection_oauth2_options_are_validated(api: Api, idp: LocalProvider) -> None:
    bad = {"oauth2": {"enabled": True, "providers": [{"name": "nope"}, {"name": "google", "clientId": "a", "clientSecret": "b",
                                                                          "authURL": "not a url"}]}}  # fmt: skip
    res = await api.su("PATCH", "/api/collections/users", json=bad)
    assert res.status_code == 400
    errors = res.json()["data"]["oauth2"]["providers"]
    assert errors["0"]["name"]["code"] == "validation_missing_provider"
    assert (
        errors["0"]["clientId"]["code"]
        == errors["0"]["clientSecret"]["code"]
        == "validation_required"
    )
    assert errors["1"] == {
        "authURL": {"code": "validation_is_url", "message": "Must be a valid URL."}
    }
    dup = {"oauth2": {"enabled": True, "providers": [idp.oidc_config(), idp.oidc_config()]}}
    res = await api.su("PATCH", "/api/collections/users", json=dup)
    assert (
        res.json()["data"]["oauth2"]["providers"]["1"]["name"]["code"]
        == "validation_duplicated_provider"
    )
    disabled = {"oauth2": {"enabled": False, "providers": [{"name": "nope"}]}}
    assert (await api.su("PATCH", "/api/collections/users", json=disabled)).status_code == 200


async def test_client_secret_is_hidden_and_kept(api: Api, idp: LocalProvider) -> None:
    await enable(api, idp, mappedFields={"name": "nosuchfield", "avatarURL": "avatar"})
    res = await api.su("GET", "/api/collections/users")
    block = res.json()["oauth2"]
    assert "clientSecret" not in block["providers"][0] and block["providers"][0]["pkce"] is None
    assert block["mappedFields"] == {"id": "", "name": "", "username": "", "avatarURL": "avatar"}
    entry = {k: v for k, v in block["providers"][0].items() if k != "clientSecret"}
    res = await api.su(
        "PATCH", "/api/collections/users", json={"oauth2": {**block, "providers": [entry]}}
    )
    assert res.status_code == 200, res.text
    idp.add_user("u-kept", "kept@example.com")
    assert (
        await sign_in(api)
    ).status_code == 200  # the stored secret still authenticates the client
    entry["clientSecret"] = ""
    res = await api.su(
        "PATCH", "/api/collections/users", json={"oauth2": {**block, "providers": [entry]}}
    )
    assert (
        res.json()["data"]["oauth2"]["providers"]["0"]["clientSecret"]["code"]
        == "validation_required"
    )


# ----- the all-in-one redirect --------------------------------------------------------------------
async def test_redirect_without_a_waiting_client_fails(api: Api) -> None:
    res = await api.call("GET", "/api/oauth2-redirect", params={"state": "nobody", "code": "c"})
    assert (
        res.status_code == 307 and res.headers["location"] == "../_/#/auth/oauth2-redirect-failure"
    )
    res = await api.call("POST", "/api/oauth2-redirect", data={"code": "c"})
    assert (
        res.status_code == 303 and res.headers["location"] == "../_/#/auth/oauth2-redirect-failure"
    )


async def test_redirect_reaches_the_subscribed_realtime_client(api: Api) -> None:
    hub = getattr(api.app, "realtime", None)
    if hub is None:
        pytest.skip("realtime hub not available")
    client = hub.connect(ip="127.0.0.1")
    hub.set_subscriptions(client, ["@oauth2"])
    res = await api.call("POST", "/api/oauth2-redirect", data={"state": client.id, "code": "abc"})
    assert (
        res.status_code == 303 and res.headers["location"] == "../_/#/auth/oauth2-redirect-success"
    )
    assert client.outbox.take_ready(10) == [
        ("@oauth2", b'{"state":"%s","code":"abc"}' % client.id.encode())
    ]
    assert "@oauth2" not in client.subscriptions
    res = await api.call("GET", "/api/oauth2-redirect", params={"state": client.id, "code": "abc"})
    assert res.headers["location"].endswith("-failure")  # the subscription was used up


async def test_redirect_from_another_ip_is_refused(api: Api) -> None:
    from roost.core.auth.oauth2_redirect import deliver_redirect

    hub = getattr(api.app, "realtime", None)
    if hub is None:
        pytest.skip("realtime hub not available")
    client = hub.connect(ip="10.0.0.1")
    hub.set_subscriptions(client, ["@oauth2"])
    assert await deliver_redirect(api.app, {"state": client.id, "code": "c"}, "10.0.0.2") is False
    assert (
        await deliver_redirect(api.app, {"state": client.id, "error": "access_denied"}, "10.0.0.1")
        is False
    )
    assert (
        client.outbox.take_ready(10)[0][1]
        == b'{"state":"%s","code":"","error":"access_denied"}' % client.id.encode()
    )
