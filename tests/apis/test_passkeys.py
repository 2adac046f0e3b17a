"""Passkeys (WebAuthn): registration, login, several credentials, sign counts, challenges,
origins, ownership, password changes and MFA, with a software authenticator."""

from __future__ import annotations

from typing import Any

from tests.apis.test_mail_flows import U, make_user
from tests.conftest import Api
from tests.webauthn_authenticator import SoftAuthenticator, b64url

ORIGIN = "http://localhost:8090"  # the default settings' meta.appURL
EXPIRED = "Invalid or expired passkey challenge."


async def enable(api: Api, **extra: Any) -> None:
    res = await api.su("PATCH", "/api/collections/users", json={"passkey": {"enabled": True}, **extra})
    assert res.status_code == 200, res.text


async def register(api: Api, token: str, device: SoftAuthenticator, name: str = "") -> dict[str, Any]:
    options = await api.call("POST", U + "passkeys/registration-options", token=token)
    assert options.status_code == 200, options.text
    res = await api.call("POST", U + "passkeys", token=token, json={"credential": device.create(options.json()), "name": name})
    assert res.status_code == 200, res.text
    return dict(res.json())


async def login_options(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    res = await api.call("POST", U + "request-passkey-options", json=body or {})
    assert res.status_code == 200, res.text
    return dict(res.json())


async def passkey_login(api: Api, device: SoftAuthenticator, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    credential = device.get(await login_options(api, body), **kwargs)
    return await api.call("POST", U + "auth-with-passkey", json={"credential": credential})


async def user_with_token(api: Api, email: str) -> tuple[dict[str, Any], str]:
    user = await make_user(api, email)
    return user, await api.login("users", email, "password123")


async def test_register_two_and_log_in_with_each(api: Api) -> None:
    await enable(api)
    user, token = await user_with_token(api, "p1@example.com")
    options = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    assert options["rp"] == {"name": "Acme", "id": "localhost"} and options["user"]["name"] == "p1@example.com"
    assert options["attestation"] == "none" and options["excludeCredentials"] == []
    device = SoftAuthenticator(ORIGIN)
    first = await register(api, token, device, "laptop")
    second = await register(api, token, device, "phone")
    assert first["name"] == "laptop" and first["signCount"] == 0 and "publicKey" not in first
    again = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    assert {c["id"] for c in again["excludeCredentials"]} == {first["credentialId"], second["credentialId"]}
    for cred in device.credentials:
        # discoverable (no identity): the authenticator picks the credential
        res = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(await login_options(api), cred)})
        assert res.status_code == 200, res.text
        assert set(res.json()) == {"token", "record"} and res.json()["record"]["id"] == user["id"]
        assert res.json()["record"]["email"] == "p1@example.com"
    listed = await api.call("GET", U + "passkeys", token=token)
    assert [p["name"] for p in listed.json()] == ["laptop", "phone"]
    assert all(p["signCount"] == 1 and p["lastUsed"] for p in listed.json())
    # with an identity the options list exactly that record's credentials
    named = await login_options(api, {"identity": "p1@example.com"})
    assert {c["id"] for c in named["allowCredentials"]} == {first["credentialId"], second["credentialId"]}
    unknown = await login_options(api, {"identity": "ghost@example.com"})
    assert unknown["allowCredentials"] == [] and unknown["rpId"] == "localhost"
    # the token works like a password login's
    assert (await api.call("POST", U + "auth-refresh", token=(await passkey_login(api, device)).json()["token"])).status_code == 200


async def test_list_and_remove_ownership(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p2@example.com")
    _, other = await user_with_token(api, "p3@example.com")
    device = SoftAuthenticator(ORIGIN)
    mine = await register(api, token, device)
    spare = await register(api, token, device)
    assert (await api.call("GET", U + "passkeys", token=other)).json() == []
    assert (await api.call("GET", U + "passkeys")).status_code == 401
    assert (await api.su("GET", U + "passkeys")).status_code == 403
    denied = await api.call("DELETE", U + f"passkeys/{mine['id']}", token=other)
    assert (denied.status_code, denied.json()["data"]) == (404, {})
    assert (await api.call("DELETE", U + f"passkeys/{mine['id']}")).status_code == 401
    assert (await api.call("DELETE", U + f"passkeys/{mine['id']}", token=token)).status_code == 204
    assert (await api.call("DELETE", U + f"passkeys/{mine['id']}", token=token)).status_code == 404
    # a removed credential no longer logs in; the other one still does
    gone = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(await login_options(api), device.credentials[0])})
    assert (gone.status_code, gone.json()["data"]["credential"]["code"]) == (400, "validation_invalid_passkey")
    assert (await passkey_login(api, device, {"identity": "p2@example.com"})).status_code == 200
    # superusers remove anyone's, and see the rows through the superuser-only collection
    assert (await api.su("GET", "/api/collections/_passkeys/records")).json()["totalItems"] == 1
    assert (await api.call("GET", "/api/collections/_passkeys/records", token=token)).status_code == 403
    assert (await api.su("DELETE", U + f"passkeys/{spare['id']}")).status_code == 204
    assert (await api.call("GET", U + "passkeys", token=token)).json() == []


async def test_sign_count_regression_is_refused(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p4@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)
    assert (await passkey_login(api, device, sign_count=5)).status_code == 200
    for count in (5, 3):
        cloned = await passkey_login(api, device, sign_count=count)
        assert cloned.status_code == 400
        assert "sign count" in cloned.json()["data"]["credential"]["message"]
    assert (await passkey_login(api, device, sign_count=6)).status_code == 200
    assert (await api.call("GET", U + "passkeys", token=token)).json()[0]["signCount"] == 6
    # authenticators without a counter always send 0, which is accepted while the stored count is 0
    _, token2 = await user_with_token(api, "p5@example.com")
    flat = SoftAuthenticator(ORIGIN, counter_step=0)
    await register(api, token2, flat)
    for _ in range(2):
        assert (await passkey_login(api, flat, {"identity": "p5@example.com"})).status_code == 200


async def test_challenges_are_single_use_and_bound(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p6@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)
    options = await login_options(api)
    first = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(options)})
    assert first.status_code == 200
    replay = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(options)})
    assert (replay.status_code, replay.json()["message"]) == (400, EXPIRED)
    assert replay.json()["data"]["credential"]["code"] == "validation_invalid_challenge"
    # a challenge Roost never issued, and a registration challenge used to log in
    made_up = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get({**options, "challenge": b64url(b"x" * 32)})})
    assert made_up.json()["message"] == EXPIRED
    reg = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    crossed = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get({**reg, "rpId": "localhost"})})
    assert crossed.json()["message"] == EXPIRED
    # an expired challenge is gone from the store
    options = await login_options(api)
    await api.app.store.delete(f"@passkey_challenge_{options['challenge']}")
    late = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(options)})
    assert late.json()["message"] == EXPIRED
    # a registration challenge belongs to the record that asked for it
    _, other = await user_with_token(api, "p7@example.com")
    theirs = (await api.call("POST", U + "passkeys/registration-options", token=other)).json()
    stolen = await api.call("POST", U + "passkeys", token=token, json={"credential": device.create(theirs)})
    assert stolen.status_code == 400


async def test_wrong_origin_and_rp_id_are_refused(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p8@example.com")
    device = SoftAuthenticator(ORIGIN)
    options = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    evil = await api.call("POST", U + "passkeys", token=token, json={"credential": device.create(options, origin="https://evil.example")})
    assert evil.status_code == 400 and "origin" in evil.json()["data"]["credential"]["message"]
    options = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    other_rp = await api.call("POST", U + "passkeys", token=token, json={"credential": device.create(options, rp_id="evil.example")})
    assert other_rp.status_code == 400 and "RP ID" in other_rp.json()["data"]["credential"]["message"]
    good = SoftAuthenticator(ORIGIN)
    await register(api, token, good)
    phished = await passkey_login(api, good, origin="https://evil.example")
    assert phished.status_code == 400 and "origin" in phished.json()["data"]["credential"]["message"]
    # the collection's own relying party settings replace the appURL defaults
    await enable(api)
    res = await api.su("PATCH", "/api/collections/users", json={"passkey": {"enabled": True, "rpId": "app.example", "rpName": "App", "origins": ["https://app.example"]}})
    assert res.status_code == 200, res.text
    options = (await api.call("POST", U + "passkeys/registration-options", token=token)).json()
    assert options["rp"] == {"name": "App", "id": "app.example"}
    assert (await api.call("POST", U + "passkeys", token=token, json={"credential": SoftAuthenticator("https://app.example").create(options)})).status_code == 200
    bad = await api.su("PATCH", "/api/collections/users", json={"passkey": {"enabled": "yes", "origins": ["ftp://x"]}})
    assert bad.status_code == 400
    assert set(bad.json()["data"]["passkey"]) == {"enabled", "origins"}


async def test_bad_input_is_a_clean_400(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p9@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)
    good = device.get(await login_options(api))
    bodies: list[Any] = [
        {},
        {"credential": "not an object"},
        {"credential": {}},
        {"credential": {**good, "rawId": "%%%not-base64%%%"}},
        {"credential": {**good, "response": {**good["response"], "clientDataJSON": b64url(b"{not json")}}},
        {"credential": {**good, "response": {**good["response"], "authenticatorData": "AAAA"}}},
        {"credential": {**good, "response": {**good["response"], "signature": b64url(b"\x30\x02\x01")}}},
        {"credential": {**good, "id": b64url(b"unknown"), "rawId": b64url(b"unknown")}},
    ]
    for body in bodies:
        res = await api.call("POST", U + "auth-with-passkey", json=body)
        assert res.status_code == 400, (body, res.text)
        assert set(res.json()) == {"status", "message", "data"}
    raw = await api.call("POST", U + "auth-with-passkey", content=b"{broken", headers={"content-type": "application/json"})
    assert raw.status_code == 400
    reg = await api.call("POST", U + "passkeys", token=token, json={"credential": {"id": "x", "rawId": "x", "response": {"clientDataJSON": "!!", "attestationObject": "AA"}, "type": "public-key"}})
    assert reg.status_code == 400 and set(reg.json()) == {"status", "message", "data"}
    assert (await api.call("POST", U + "passkeys/registration-options")).status_code == 401
    assert (await api.call("POST", "/api/collections/posts_missing/request-passkey-options", json={})).status_code == 404
    assert (await api.call("DELETE", U + "passkeys/nope", token=token)).status_code == 404


async def test_disabled_collection_and_password_rotation(api: Api) -> None:
    _, token = await user_with_token(api, "p10@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)  # registering works before logins are enabled
    off = await api.call("POST", U + "request-passkey-options", json={})
    assert (off.status_code, off.json()["message"]) == (403, "The collection is not configured to allow passkey authentication.")
    await enable(api)
    rec = (await passkey_login(api, device)).json()
    # a password change rotates the tokenKey: old tokens die, the passkeys stay
    changed = await api.call(
        "PATCH", U + f"records/{rec['record']['id']}", token=rec["token"],
        json={"oldPassword": "password123", "password": "password456", "passwordConfirm": "password456"},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (await api.call("POST", U + "auth-refresh", token=rec["token"])).status_code == 401
    fresh = await passkey_login(api, device)
    assert fresh.status_code == 200
    assert (await api.call("POST", U + "auth-refresh", token=fresh.json()["token"])).status_code == 200


async def test_mfa_with_passkeys(api: Api) -> None:
    _, token = await user_with_token(api, "p11@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)
    _, token2 = await user_with_token(api, "p12@example.com")
    other = SoftAuthenticator(ORIGIN)
    await register(api, token2, other)
    await enable(api, mfa={"enabled": True})
    login = {"identity": "p11@example.com", "password": "password123"}
    first = await api.call("POST", U + "auth-with-password", json=login)
    assert first.status_code == 401
    mfa_id = first.json()["mfaId"]
    options = await login_options(api, {"mfaId": mfa_id})
    assert len(options["allowCredentials"]) == 1
    done = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(options), "mfaId": mfa_id})
    assert done.status_code == 200, done.text
    assert done.json()["record"]["email"] == "p11@example.com"
    # a passkey first factor needs another method, not a second passkey
    second = await passkey_login(api, device)
    assert second.status_code == 401
    again = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(await login_options(api, {"mfaId": second.json()["mfaId"]})), "mfaId": second.json()["mfaId"]})
    assert (again.status_code, again.json()["message"]) == (400, "A different authentication method is required.")
    # a passkey of another record cannot complete this record's MFA session
    mfa = (await api.call("POST", U + "auth-with-password", json=login)).json()["mfaId"]
    wrong = await api.call("POST", U + "auth-with-passkey", json={"credential": other.get(await login_options(api)), "mfaId": mfa})
    assert wrong.status_code == 400


async def test_passkey_logins_carry_the_auth_rate_limit_tag(api: Api) -> None:
    await enable(api)
    _, token = await user_with_token(api, "p13@example.com")
    device = SoftAuthenticator(ORIGIN)
    await register(api, token, device)
    rules = [{"label": "users:auth", "audience": "", "duration": 60, "maxRequests": 1},
             {"label": "*:requestPasskeyOptions", "audience": "", "duration": 60, "maxRequests": 2}]  # fmt: skip
    res = await api.su("PATCH", "/api/settings", json={"rateLimits": {"enabled": True, "rules": rules}})
    assert res.status_code == 200, res.text
    assert (await passkey_login(api, device)).status_code == 200
    limited = await api.call("POST", U + "auth-with-passkey", json={"credential": device.get(await login_options(api))})
    assert limited.status_code == 429
    assert (await api.call("POST", U + "request-passkey-options", json={})).status_code == 429
