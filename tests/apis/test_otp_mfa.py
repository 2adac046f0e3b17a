"""OTP login, MFA challenges and login alerts, with codes read from real mail."""

from __future__ import annotations

from typing import Any

from tests.apis.test_mail_flows import U, codes, make_user
from tests.conftest import Api


async def enable(api: Api, **options: Any) -> None:
    res = await api.su("PATCH", "/api/collections/users", json=options)
    assert res.status_code == 200, res.text


async def otp_code(api: Api, sink: Any, email: str) -> tuple[str, str]:
    res = await api.call("POST", U + "request-otp", json={"email": email})
    assert res.status_code == 200, res.text
    count = len(sink.to(email)) + 1
    mail = (await sink.receive(email, count))[-1]
    return str(res.json()["otpId"]), mail.code()


async def test_otp_disabled_is_forbidden(mail_api: Api) -> None:
    for path, body in (("request-otp", {"email": "a@example.com"}), ("auth-with-otp", {"otpId": "x", "password": "y"})):
        res = await mail_api.call("POST", U + path, json=body)
        assert (res.status_code, res.json()["message"]) == (403, "The collection is not configured to allow OTP authentication.")


async def test_otp_login_verifies_the_record_and_is_single_use(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, otp={"enabled": True})
    user = await make_user(mail_api, "otp@example.com")
    assert codes(await mail_api.call("POST", U + "request-otp", json={})) == {"email": "validation_required"}
    unknown = await mail_api.call("POST", U + "request-otp", json={"email": "ghost@example.com"})
    assert unknown.status_code == 200 and len(unknown.json()["otpId"]) == 15
    otp_id, code = await otp_code(mail_api, mail_sink, "otp@example.com")
    assert len(code) == 8
    assert codes(await mail_api.call("POST", U + "auth-with-otp", json={})) == {"otpId": "validation_required", "password": "validation_required"}
    res = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": unknown.json()["otpId"], "password": code})
    assert (res.status_code, res.json()["message"]) == (400, "Invalid or expired OTP.")
    res = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": otp_id, "password": code})
    assert res.status_code == 200, res.text
    assert res.json()["record"]["id"] == user["id"] and res.json()["record"]["verified"] is True
    assert res.json()["record"]["email"] == "otp@example.com"
    again = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": otp_id, "password": code})
    assert again.json()["message"] == "Invalid or expired OTP."
    # the pre-set password no longer works: whoever registered the address first loses it
    res = await mail_api.call("POST", U + "auth-with-password", json={"identity": "otp@example.com", "password": "password123"})
    assert res.status_code == 400
    assert mail_sink.to("ghost@example.com") == []


async def test_otp_attempts_are_limited_per_record(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, otp={"enabled": True})
    await make_user(mail_api, "tries@example.com")
    otp_id, code = await otp_code(mail_api, mail_sink, "tries@example.com")
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    for _ in range(5):
        res = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": otp_id, "password": wrong})
        assert (res.status_code, res.json()["message"]) == (400, "Invalid or expired OTP.")
    for password in (wrong, code):
        res = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": otp_id, "password": password})
        assert (res.status_code, res.json()["message"]) == (429, "Too many attempts, please try again later with a new OTP.")


async def test_expired_otp_is_refused_and_cleaned_up(mail_api: Api, mail_sink: Any) -> None:
    from roost.core.auth.cleanup import delete_expired

    await enable(mail_api, otp={"enabled": True})
    await make_user(mail_api, "late@example.com")
    otp_id, code = await otp_code(mail_api, mail_sink, "late@example.com")
    async with mail_api.app.db.transaction() as conn:
        await conn.execute('UPDATE "_otps" SET "created" = :c WHERE "id" = :i', {"c": "2020-01-01 00:00:00.000Z", "i": otp_id})
    res = await mail_api.call("POST", U + "auth-with-otp", json={"otpId": otp_id, "password": code})
    assert res.json()["message"] == "Invalid or expired OTP."
    assert await delete_expired(mail_api.app) in (0, 1)  # the hourly cron may have run it first
    assert await mail_api.app.db.fetch_value('SELECT COUNT(*) FROM "_otps"') == 0


async def test_mfa_needs_two_methods(mail_api: Api) -> None:
    res = await mail_api.su("PATCH", "/api/collections/users", json={"mfa": {"enabled": True}})
    assert res.status_code == 400
    assert res.json()["data"] == {"mfa": {"enabled": {"code": "validation_mfa_not_enough_auths",
                                                      "message": "MFA requires at least 2 auth methods to be enabled."}}}  # fmt: skip


async def test_mfa_password_then_otp(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, otp={"enabled": True}, mfa={"enabled": True})
    methods = (await mail_api.call("GET", U + "auth-methods")).json()
    assert methods["mfa"] == {"enabled": True, "duration": 600}
    user = await make_user(mail_api, "mfa@example.com")
    await make_user(mail_api, "mfa2@example.com")
    login = {"identity": "mfa@example.com", "password": "password123"}
    first = await mail_api.call("POST", U + "auth-with-password", json=login)
    assert first.status_code == 401
    assert list(first.json()) == ["mfaId"]
    mfa_id = first.json()["mfaId"]
    same = await mail_api.call("POST", U + "auth-with-password", json={**login, "mfaId": mfa_id})
    assert (same.status_code, same.json()["message"]) == (400, "A different authentication method is required.")
    bad = await mail_api.call("POST", U + "auth-with-password?mfaId=nope", json=login)
    assert bad.json()["message"] == "Invalid or expired MFA session."
    other = await mail_api.call("POST", U + "auth-with-password", json={"identity": "mfa2@example.com", "password": "password123", "mfaId": mfa_id})
    assert other.json()["message"] == "Invalid MFA session."
    otp_id, code = await otp_code(mail_api, mail_sink, "mfa@example.com")
    done = await mail_api.call("POST", U + f"auth-with-otp?mfaId={mfa_id}", json={"otpId": otp_id, "password": code})
    assert done.status_code == 200, done.text
    assert done.json()["record"]["id"] == user["id"]
    assert await mail_api.app.db.fetch_value('SELECT COUNT(*) FROM "_mfas" WHERE "id" = :i', {"i": mfa_id}) == 0
    # refresh and impersonate never ask for a second factor
    refresh = await mail_api.call("POST", U + "auth-refresh", token=done.json()["token"])
    assert refresh.status_code == 200
    imp = await mail_api.su("POST", U + f"impersonate/{user['id']}", json={})
    assert imp.status_code == 200


async def test_mfa_rule_and_expiry(mail_api: Api) -> None:
    await enable(mail_api, otp={"enabled": True}, mfa={"enabled": True, "rule": "email = 'strict@example.com'"})
    await make_user(mail_api, "easy@example.com")
    await make_user(mail_api, "strict@example.com")
    easy = await mail_api.call("POST", U + "auth-with-password", json={"identity": "easy@example.com", "password": "password123"})
    assert easy.status_code == 200
    login = {"identity": "strict@example.com", "password": "password123"}
    strict = await mail_api.call("POST", U + "auth-with-password", json=login)
    assert strict.status_code == 401
    mfa_id = strict.json()["mfaId"]
    async with mail_api.app.db.transaction() as conn:
        await conn.execute('UPDATE "_mfas" SET "created" = :c WHERE "id" = :i', {"c": "2020-01-01 00:00:00.000Z", "i": mfa_id})
    late = await mail_api.call("POST", U + "auth-with-password", json={**login, "mfaId": mfa_id})
    assert (late.status_code, late.json()["message"]) == (400, "Invalid or expired MFA session.")


async def test_login_alert_on_a_new_origin(mail_api: Api, mail_sink: Any) -> None:
    await make_user(mail_api, "alert@example.com", name="<i>Al</i>")
    body = {"identity": "alert@example.com", "password": "password123"}
    for agent in ("ua-1", "ua-1", "ua-2", "ua-3", "ua-4", "ua-5", "ua-6", "ua-2"):
        res = await mail_api.call("POST", U + "auth-with-password", json=body, headers={"User-Agent": agent})
        assert res.status_code == 200
    alerts = await mail_sink.receive("alert@example.com", 5)
    assert len(alerts) == 5
    assert alerts[0].subject == "New sign-in to your Roost Test account"
    assert " ua-2" in alerts[0].html
    await mail_api.app.mail.join()
    assert len(mail_sink.to("alert@example.com")) == 5
    origins = await mail_api.app.db.fetch_value('SELECT COUNT(*) FROM "_authOrigins" WHERE "collectionRef" = :c', {"c": "_pb_users_auth_"})
    assert origins == 5


async def test_login_alerts_can_be_turned_off(mail_api: Api, mail_sink: Any) -> None:
    await enable(mail_api, authAlert={"enabled": False})
    await make_user(mail_api, "quiet@example.com")
    for agent in ("a", "b"):
        await mail_api.call("POST", U + "auth-with-password", json={"identity": "quiet@example.com", "password": "password123"},
                            headers={"User-Agent": agent})  # fmt: skip
    await mail_api.app.mail.join()
    assert mail_sink.to("quiet@example.com") == []
