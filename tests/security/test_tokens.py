"""S7: the token suite. Only a token Roost signed, unexpired, of the auth type, for a record that
still has the tokenKey it was signed with, authenticates; everything else is a guest or a 401."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import jwt
import orjson
import pytest

from roost.core.auth.tokens import (
    _HS256,
    AUTH,
    FILE,
    PASSWORD_RESET,
    VERIFICATION,
    issue,
    signing_key,
)
from roost.core.records.save import fetch_record
from tests.conftest import Api

REFRESH = "/api/collections/users/auth-refresh"
PASSWORD = "tokens12345"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _user(api: Api, email: str = "t@example.com") -> tuple[dict[str, Any], str]:
    body = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return res.json(), await api.login("users", email, PASSWORD)


async def _key(api: Api, record_id: str, token_type: str = AUTH) -> str:
    coll = api.app.collections.get("users")
    record = await fetch_record(api.app, coll, record_id)
    assert record is not None
    return signing_key(coll, record, token_type)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _refused(api: Api, token: str) -> None:
    res = await api.call("POST", REFRESH, token=token)
    assert res.status_code == 401, (token, res.text)
    assert res.json()["message"] == "The request requires valid record authorization token."


async def test_the_genuine_token_works(api: Api) -> None:
    _, token = await _user(api)
    assert (await api.call("POST", REFRESH, token=token)).status_code == 200


async def test_unsigned_and_foreign_algorithms_are_refused(api: Api) -> None:
    user, token = await _user(api)
    claims = _claims(token)
    key = await _key(api, user["id"])
    forged = [
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(claims)}.",
        jwt.encode(claims, key, algorithm="HS512"),
        jwt.encode(claims, key, algorithm="HS384"),
        jwt.encode(claims, "wrong-key-of-sufficient-length-000", algorithm="HS256"),
        jwt.encode(claims, key, algorithm="HS256", headers={"crit": ["exp"]}),
    ]
    for token_ in forged:
        await _refused(api, token_)


async def test_tampered_claims_are_refused(api: Api) -> None:
    _, token = await _user(api)
    other, _ = await _user(api, "other@example.com")
    header, _, signature = token.split(".")
    for change in ({"id": other["id"]}, {"exp": int(time.time()) + 10**8}, {"refreshable": True, "x": 1}):
        await _refused(api, f"{header}.{_b64({**_claims(token), **change})}.{signature}")


async def test_expired_and_other_typed_tokens_are_refused(api: Api) -> None:
    user, _ = await _user(api)
    coll = api.app.collections.get("users")
    record = await fetch_record(api.app, coll, user["id"])
    assert record is not None
    key = signing_key(coll, record, AUTH)
    expired = {"collectionId": coll.id, "id": user["id"], "type": AUTH, "refreshable": True, "exp": int(time.time()) - 5}
    await _refused(api, jwt.encode(expired, key, algorithm="HS256"))
    for kind in (FILE, VERIFICATION, PASSWORD_RESET):
        await _refused(api, issue(coll, record, kind, email=record["email"]))
    # an auth-typed payload signed with the file-token secret is not an auth token either
    wrong_secret = {**expired, "exp": int(time.time()) + 600}
    await _refused(api, jwt.encode(wrong_secret, signing_key(coll, record, FILE), algorithm="HS256"))


async def test_a_token_names_exactly_one_collection(api: Api) -> None:
    user, token = await _user(api)
    su = api.app.collections.get("_superusers")
    claims = {**_claims(token), "collectionId": su.id}
    # signed with the user's real key but claiming the superusers collection
    await _refused(api, jwt.encode(claims, await _key(api, user["id"]), algorithm="HS256"))
    res = await api.call("GET", "/api/collections", token=jwt.encode(claims, await _key(api, user["id"]), algorithm="HS256"))
    assert res.status_code == 401


async def test_password_change_and_deletion_revoke_tokens(api: Api) -> None:
    user, token = await _user(api)
    body = {"password": "changed12345", "passwordConfirm": "changed12345", "oldPassword": PASSWORD}
    res = await api.call("PATCH", f"/api/collections/users/records/{user['id']}", token=token, json=body)
    assert res.status_code == 200, res.text
    await _refused(api, token)
    fresh = await api.login("users", "t@example.com", "changed12345")
    assert (await api.su("DELETE", f"/api/collections/users/records/{user['id']}")).status_code == 204
    await _refused(api, fresh)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "",
        lambda t: "Bearer",
        lambda t: "garbage",
        lambda t: "a.b.c",
        lambda t: t + "x",
        lambda t: t[:-3],
        lambda t: "Bearer Bearer " + t,
        lambda t: t.replace(".", "..", 1),
        lambda t: "\u0000" + t,
    ],
)
async def test_malformed_tokens_are_refused_without_errors(api: Api, make: Callable[[str], str]) -> None:
    _, token = await _user(api)
    res = await api.call("POST", REFRESH, headers={"Authorization": make(token)})
    assert res.status_code == 401, res.text


async def test_a_token_in_the_query_string_does_not_authenticate(api: Api) -> None:
    _, token = await _user(api)
    res = await api.call("POST", f"{REFRESH}?token={token}")
    assert res.status_code == 401
    res = await api.call("POST", f"{REFRESH}?Authorization={token}")
    assert res.status_code == 401


async def test_a_refresh_renews_a_login_token_and_keeps_an_impersonation_token(api: Api) -> None:
    user, token = await _user(api)
    # the request's token is verified first, then its claims are read again for "refreshable"
    renewed = (await api.call("POST", REFRESH, token=token)).json()["token"]
    assert _claims(renewed)["refreshable"] is True
    assert _claims(renewed)["exp"] >= _claims(token)["exp"]
    imp = await api.su("POST", f"/api/collections/users/impersonate/{user['id']}", json={"duration": 600})
    assert imp.status_code == 200, imp.text
    fixed = imp.json()["token"]
    assert _claims(fixed)["refreshable"] is False
    for _ in range(2):  # the second time, from the claims kept at its first verification
        res = await api.call("POST", REFRESH, token=fixed)
        assert res.status_code == 200, res.text
        assert res.json()["token"] == fixed


async def test_issued_tokens_are_what_pyjwt_signs_and_keep_its_key_check(api: Api) -> None:
    """Roost signs with PyJWT's HS256 and orjson, the key check memoised per key: the token is the
    one ``jwt.encode`` makes, and a key PyJWT refuses for HMAC is still refused."""
    user, _ = await _user(api)
    coll = api.app.collections.get("users")
    record = await fetch_record(api.app, coll, user["id"])
    assert record is not None
    token = issue(coll, record, AUTH, duration=600)
    claims = _claims(token)
    assert token == jwt.encode(claims, await _key(api, user["id"]), algorithm="HS256")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}

    pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
    for _ in range(2):  # a refusal raises, so it is never memoised: the second call checks again
        with pytest.raises(jwt.InvalidKeyError):
            _HS256().prepare_key(pem)
    with pytest.raises(jwt.InvalidKeyError):
        _HS256().prepare_key("")
