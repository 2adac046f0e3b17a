"""TOTP authenticator apps: enrolment, MFA second factor, login method, replay and recovery codes."""

from __future__ import annotations

import time
from typing import Any

import pyotp

from tests.apis.test_mail_flows import U, make_user
from tests.conftest import Api

INVALID = "Invalid or expired TOTP code."


async def enrolled(api: Api, email: str) -> tuple[dict[str, Any], str, pyotp.TOTP, list[str]]:
    user = await make_user(api, email)
    token = await api.login("users", email, "password123")
    res = await api.call("POST", U + "totp/enroll", token=token)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["otpauthURI"].startswith("otpauth://totp/") and "issuer=" in body["otpauthURI"]
    totp = pyotp.TOTP(body["secret"])
    # the previous step: the current one stays free for the test's logins
    done = await api.call("POST", U + "totp/confirm", token=token, json={"code": totp.at(time.time() - 30)})
    assert done.status_code == 200, done.text
    recovery = done.json()["recoveryCodes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    return user, token, totp, recovery


async def test_enrol_confirm_and_storage(api: Api) -> None:
    user = await make_user(api, "t1@example.com")
    token = await api.login("users", "t1@example.com", "password123")
    assert (await api.call("POST", U + "totp/enroll")).status_code == 401
    res = await api.call("POST", U + "totp/enroll", token=token)
    secret = res.json()["secret"]
    bad = await api.call("POST", U + "totp/confirm", token=token, json={"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert (bad.status_code, bad.json()["message"]) == (400, INVALID)
    assert bad.json()["data"]["code"]["code"] == "validation_invalid_totp"
    ok = await api.call("POST", U + "totp/confirm", token=token, json={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200, ok.text
    row = await api.app.db.fetch_one('SELECT * FROM "_totps" WHERE "recordRef" = :r', {"r": user["id"]})
    assert row is not None and secret not in str(dict(row)["recoveryHashes"])
    for code in ok.json()["recoveryCodes"]:
        assert code not in str(dict(row)["recoveryHashes"])
    again = await api.call("POST", U + "totp/enroll", token=token)
    assert again.status_code == 400
    # the collection is superusers-only
    assert (await api.call("GET", "/api/collections/_totps/records", token=token)).status_code == 403
    listed = await api.su("GET", "/api/collections/_totps/records")
    assert listed.status_code == 200 and listed.json()["totalItems"] == 1


async def test_mfa_password_then_totp_and_replay(api: Api) -> None:
    user, _, totp, _ = await enrolled(api, "t2@example.com")
    res = await api.su("PATCH", "/api/collections/users", json={"totp": {"enabled": True}, "mfa": {"enabled": True}})
    assert res.status_code == 200, res.text
    login = {"identity": "t2@example.com", "password": "password123"}
    first = await api.call("POST", U + "auth-with-password", json=login)
    assert first.status_code == 401
    mfa_id = first.json()["mfaId"]
    code = totp.now()
    wrong = await api.call("POST", U + "auth-with-totp", json={"mfaId": mfa_id, "code": "12345" + ("7" if code[-1] != "7" else "8")})
    assert (wrong.status_code, wrong.json()["message"]) == (400, INVALID)
    done = await api.call("POST", U + "auth-with-totp", json={"mfaId": mfa_id, "code": code})
    assert done.status_code == 200, done.text
    assert done.json()["record"]["id"] == user["id"] and done.json()["token"]
    # the same code (same step) is refused for a new MFA session
    second = await api.call("POST", U + "auth-with-password", json=login)
    replay = await api.call("POST", U + "auth-with-totp", json={"mfaId": second.json()["mfaId"], "code": code})
    assert (replay.status_code, replay.json()["message"]) == (400, INVALID)
    # TOTP as the first factor needs a different second one
    first_totp = await api.call("POST", U + "auth-with-totp", json={"identity": "t2@example.com", "code": totp.at(time.time() + 30)})
    assert first_totp.status_code == 401 and "mfaId" in first_totp.json()


async def test_totp_login_method_and_disabled(api: Api) -> None:
    _, _, totp, _ = await enrolled(api, "t3@example.com")
    off = await api.call("POST", U + "auth-with-totp", json={"identity": "t3@example.com", "code": totp.now()})
    assert (off.status_code, off.json()["message"]) == (403, "The collection is not configured to allow TOTP authentication.")
    no_mfa = await api.call("POST", U + "auth-with-totp", json={"mfaId": "abc", "code": totp.now()})
    assert (no_mfa.status_code, no_mfa.json()["message"]) == (400, "Invalid or expired MFA session.")
    assert (await api.su("PATCH", "/api/collections/users", json={"totp": {"enabled": True}})).status_code == 200
    coll = (await api.su("GET", "/api/collections/users")).json()
    assert coll["totp"] == {"enabled": True} and coll["passwordAuth"]["enabled"] is True
    ok = await api.call("POST", U + "auth-with-totp", json={"identity": "t3@example.com", "code": totp.now()})
    assert ok.status_code == 200, ok.text
    replay = await api.call("POST", U + "auth-with-totp", json={"identity": "t3@example.com", "code": totp.now()})
    assert replay.json()["message"] == INVALID
    ghost = await api.call("POST", U + "auth-with-totp", json={"identity": "ghost@example.com", "code": "123456"})
    assert ghost.json()["message"] == INVALID


async def test_recovery_codes_are_single_use(api: Api) -> None:
    await enrolled(api, "t4@example.com")
    _, _, _, recovery = await enrolled(api, "t5@example.com")
    await api.su("PATCH", "/api/collections/users", json={"totp": {"enabled": True}})
    body = {"identity": "t5@example.com", "code": recovery[0]}
    assert (await api.call("POST", U + "auth-with-totp", json=body)).status_code == 200
    again = await api.call("POST", U + "auth-with-totp", json=body)
    assert (again.status_code, again.json()["message"]) == (400, INVALID)
    # another record's code is worthless here
    assert (await api.call("POST", U + "auth-with-totp", json={"identity": "t4@example.com", "code": recovery[1]})).status_code == 400
    assert (await api.call("POST", U + "auth-with-totp", json={**body, "code": recovery[1].upper()})).status_code == 200


async def test_wrong_codes_are_rate_limited(api: Api) -> None:
    _, _, totp, _ = await enrolled(api, "t6@example.com")
    await api.su("PATCH", "/api/collections/users", json={"totp": {"enabled": True}})
    right = totp.now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        res = await api.call("POST", U + "auth-with-totp", json={"identity": "t6@example.com", "code": wrong})
        assert res.status_code == 400
    for code in (wrong, right):
        res = await api.call("POST", U + "auth-with-totp", json={"identity": "t6@example.com", "code": code})
        assert res.status_code == 429


async def test_disable_needs_proof_and_owner(api: Api) -> None:
    user, token, totp, _ = await enrolled(api, "t7@example.com")
    await make_user(api, "other@example.com")
    other = await api.login("users", "other@example.com", "password123")
    # another user acts only on their own (absent) enrolment; superusers of another collection are refused
    res = await api.call("DELETE", U + "totp", token=other, json={"password": "password123"})
    assert (res.status_code, res.json()["message"]) == (400, "TOTP is not enabled.")
    assert (await api.su("DELETE", U + "totp", json={"password": "password123"})).status_code == 403
    assert (await api.su("POST", U + "totp/enroll")).status_code == 403
    assert (await api.call("DELETE", U + "totp", json={"password": "password123"})).status_code == 401
    blank = await api.call("DELETE", U + "totp", token=token, json={})
    assert blank.status_code == 400 and blank.json()["data"]["code"]["code"] == "validation_required"
    bad = await api.call("DELETE", U + "totp", token=token, json={"password": "nope-nope"})
    assert (bad.status_code, bad.json()["data"]["password"]["code"]) == (400, "validation_invalid_password")
    ok = await api.call("DELETE", U + "totp", token=token, json={"code": totp.now()})
    assert ok.status_code == 204, ok.text
    assert await api.app.db.fetch_value('SELECT COUNT(*) FROM "_totps" WHERE "recordRef" = :r', {"r": user["id"]}) == 0
    # and enrolment can start again, then be removed with the password
    assert (await api.call("POST", U + "totp/enroll", token=token)).status_code == 200
    assert (await api.call("DELETE", U + "totp", token=token, json={"password": "password123"})).status_code == 204


async def test_deleting_a_record_deletes_its_owned_system_rows(api: Api) -> None:
    user, _, _, _ = await enrolled(api, "t9@example.com")
    other = await make_user(api, "t10@example.com")
    for owner in (user, other):
        linked = await api.su("POST", "/api/collections/_externalAuths/records", json={
            "collectionRef": "_pb_users_auth_", "recordRef": owner["id"], "provider": "google", "providerId": owner["id"]})
        assert linked.status_code == 200, linked.text
    assert (await api.su("DELETE", f"{U}records/{user['id']}")).status_code == 204
    left = (await api.su("GET", "/api/collections/_externalAuths/records")).json()["items"]
    assert [row["recordRef"] for row in left] == [other["id"]]
    assert (await api.su("GET", "/api/collections/_totps/records")).json()["totalItems"] == 0
