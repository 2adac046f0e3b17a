"""E-mail flows through a real SMTP server: verification, password reset and email change.

Every mail is received by aiosmtpd on loopback; the tests read it and follow its link.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

U = "/api/collections/users/"
VALIDATION = "An error occurred while validating the submitted data."


async def make_user(api: Api, email: str, password: str = "password123", **extra: Any) -> dict[str, Any]:
    res = await api.call("POST", U + "records", json={"email": email, "password": password, "passwordConfirm": password, **extra})
    assert res.status_code == 200, res.text
    return dict(res.json())


def codes(res: Any) -> dict[str, str]:
    return {k: v["code"] for k, v in res.json()["data"].items()}


async def test_verification_mail_link_verifies_and_resends_are_throttled(mail_api: Api, mail_sink: Any) -> None:
    user = await make_user(mail_api, "ver@example.com", name="<b>Ann</b>")
    res = await mail_api.call("POST", U + "request-verification", json={"email": "ver@example.com"})
    assert res.status_code == 204
    mail = (await mail_sink.receive("ver@example.com"))[0]
    assert mail.subject == "Confirm your Roost Test email address"
    assert mail.message["From"] == "Roost Team <no-reply@roost.test>"
    assert "http://app.test/_/#/auth/confirm-verification/" in mail.html
    again = await mail_api.call("POST", U + "request-verification", json={"email": "ver@example.com"})
    assert again.status_code == 204
    res = await mail_api.call("POST", U + "confirm-verification", json={"token": mail.token()})
    assert res.status_code == 204
    token = await mail_api.login("users", "ver@example.com", "password123")
    view = await mail_api.call("GET", U + f"records/{user['id']}", token=token)
    assert view.json()["verified"] is True
    assert len(mail_sink.to("ver@example.com")) == 1  # the second request sent nothing
    reuse = await mail_api.call("POST", U + "confirm-verification", json={"token": mail.token()})
    assert reuse.status_code == 204  # already verified: nothing left to do
    verified_again = await mail_api.call("POST", U + "request-verification", json={"email": "ver@example.com"})
    assert verified_again.status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "data"),
    [
        ({}, 400, {"email": "validation_required"}),
        ({"email": "nope"}, 400, {"email": "validation_is_email"}),
        ({"email": "nobody@example.com"}, 204, None),
    ],
)
async def test_request_verification_answers(mail_api: Api, body: dict[str, Any], status: int, data: Any) -> None:
    res = await mail_api.call("POST", U + "request-verification", json=body)
    assert res.status_code == status
    if data:
        assert res.json()["message"] == VALIDATION and codes(res) == data


async def test_request_bodies_of_the_wrong_type_fail_to_load(mail_api: Api) -> None:
    res = await mail_api.call("POST", U + "request-verification", json={"email": 123})
    assert res.status_code == 400
    assert res.json()["message"] == "An error occurred while loading the submitted data."


async def test_superusers_have_no_verification_or_email_change(mail_api: Api) -> None:
    su = "/api/collections/_superusers/"
    for path, body in (("request-verification", {"email": "su@example.com"}), ("confirm-verification", {"token": "x"})):
        res = await mail_api.call("POST", su + path, json=body)
        assert (res.status_code, res.json()["message"]) == (400, "All superusers are verified by default.")
    res = await mail_api.su("POST", su + "request-email-change", json={"newEmail": "x@example.com"})
    assert (res.status_code, res.json()["message"]) == (400, "All superusers can change their emails directly.")
    res = await mail_api.call("POST", su + "confirm-email-change", json={"token": "x", "password": "y"})
    assert res.json()["message"] == "All superusers can change their emails directly."


async def test_confirm_verification_token_checks(mail_api: Api, mail_sink: Any) -> None:
    await make_user(mail_api, "tok@example.com")
    res = await mail_api.call("POST", U + "confirm-verification", json={})
    assert codes(res) == {"token": "validation_required"}
    res = await mail_api.call("POST", U + "confirm-verification", json={"token": "bad"})
    assert codes(res) == {"token": "validation_invalid_token_claims"}
    assert res.json()["data"]["token"]["message"] == "Missing email token claim."
    await mail_api.call("POST", U + "request-password-reset", json={"email": "tok@example.com"})
    reset_token = (await mail_sink.receive("tok@example.com"))[0].token()
    res = await mail_api.call("POST", U + "confirm-verification", json={"token": reset_token})
    assert codes(res) == {"token": "validation_invalid_token"}  # single-purpose tokens


async def test_verification_token_dies_when_the_email_changes(mail_api: Api, mail_sink: Any) -> None:
    user = await make_user(mail_api, "old@example.com")
    await mail_api.call("POST", U + "request-verification", json={"email": "old@example.com"})
    token = (await mail_sink.receive("old@example.com"))[0].token()
    res = await mail_api.su("PATCH", U + f"records/{user['id']}", json={"email": "moved@example.com"})
    assert res.status_code == 200
    res = await mail_api.call("POST", U + "confirm-verification", json={"token": token})
    assert codes(res) == {"token": "validation_invalid_token"}


async def test_password_reset_through_the_mailed_link(mail_api: Api, mail_sink: Any) -> None:
    user = await make_user(mail_api, "reset@example.com")
    old_token = await mail_api.login("users", "reset@example.com", "password123")
    for email in ("reset@example.com", "nobody@example.com", "reset@example.com"):
        res = await mail_api.call("POST", U + "request-password-reset", json={"email": email})
        assert res.status_code == 204
    mail = (await mail_sink.receive("reset@example.com"))[0]
    assert "/_/#/auth/confirm-password-reset/" in mail.html and mail.subject == "Reset your Roost Test password"
    token = mail.token()
    bad = await mail_api.call("POST", U + "confirm-password-reset", json={})
    assert codes(bad) == {"token": "validation_required", "password": "validation_required", "passwordConfirm": "validation_required"}
    short = await mail_api.call("POST", U + "confirm-password-reset", json={"token": token, "password": "abc", "passwordConfirm": "abc"})
    assert short.json()["data"] == {"password": {"code": "validation_length_out_of_range",
                                                 "message": "The length must be between 8 and 255.", "params": {"max": 255, "min": 8}}}  # fmt: skip
    mismatch = await mail_api.call("POST", U + "confirm-password-reset", json={"token": token, "password": "newpass123", "passwordConfirm": "x"})
    assert codes(mismatch) == {"passwordConfirm": "validation_values_mismatch"}
    wrong = await mail_api.call("POST", "/api/collections/_superusers/confirm-password-reset",
                                json={"token": token, "password": "newpass123", "passwordConfirm": "newpass123"})  # fmt: skip
    assert codes(wrong) == {"token": "validation_token_collection_mismatch"}
    ok = await mail_api.call("POST", U + "confirm-password-reset", json={"token": token, "password": "newpass123", "passwordConfirm": "newpass123"})
    assert ok.status_code == 204
    reuse = await mail_api.call("POST", U + "confirm-password-reset", json={"token": token, "password": "newpass124", "passwordConfirm": "newpass124"})
    assert codes(reuse) == {"token": "validation_invalid_token"}
    new_token = await mail_api.login("users", "reset@example.com", "newpass123")
    assert (await mail_api.call("GET", U + f"records/{user['id']}", token=old_token)).status_code == 404
    me = await mail_api.call("GET", U + f"records/{user['id']}", token=new_token)
    assert me.json()["verified"] is True  # the mail reached its owner
    assert len(mail_sink.to("nobody@example.com")) == 0


async def test_password_reset_needs_password_auth(mail_api: Api) -> None:
    await mail_api.su("PATCH", "/api/collections/users", json={"passwordAuth": {"enabled": False}, "otp": {"enabled": True}})
    res = await mail_api.call("POST", U + "request-password-reset", json={"email": "a@example.com"})
    assert (res.status_code, res.json()["message"]) == (400, "The collection is not configured to allow password authentication.")
    methods = (await mail_api.call("GET", U + "auth-methods")).json()
    assert methods["password"] == {"identityFields": [], "enabled": False}
    assert methods["otp"] == {"enabled": True, "duration": 180}


async def test_email_change_requires_the_owner_and_the_password(mail_api: Api, mail_sink: Any) -> None:
    user = await make_user(mail_api, "change@example.com")
    await make_user(mail_api, "taken@example.com")
    token = await mail_api.login("users", "change@example.com", "password123")
    guest = await mail_api.call("POST", U + "request-email-change", json={"newEmail": "n@example.com"})
    assert (guest.status_code, guest.json()["message"]) == (401, "The request requires valid record authorization token.")
    other = await mail_api.su("POST", U + "request-email-change", json={"newEmail": "n@example.com"})
    assert (other.status_code, other.json()["message"]) == (403, "The request requires auth record from _superusers collection.")
    for body, code in (({}, "validation_required"), ({"newEmail": "change@example.com"}, "validation_not_in_invalid"),
                       ({"newEmail": "taken@example.com"}, "validation_invalid_new_email"), ({"newEmail": "bad"}, "validation_is_email")):  # fmt: skip
        res = await mail_api.call("POST", U + "request-email-change", token=token, json=body)
        assert codes(res) == {"newEmail": code}
    res = await mail_api.call("POST", U + "request-email-change", token=token, json={"newEmail": "fresh@example.com"})
    assert res.status_code == 204
    mail = (await mail_sink.receive("fresh@example.com"))[0]
    assert "/_/#/auth/confirm-email-change/" in mail.html
    empty = await mail_api.call("POST", U + "confirm-email-change", json={})
    assert codes(empty) == {"token": "validation_required", "password": "validation_required"}
    bad = await mail_api.call("POST", U + "confirm-email-change", json={"token": "x.y.z", "password": "password123"})
    assert codes(bad) == {"token": "validation_invalid_token_payload", "password": "validation_invalid_password"}
    wrong = await mail_api.call("POST", U + "confirm-email-change", json={"token": mail.token(), "password": "nope"})
    assert codes(wrong) == {"password": "validation_invalid_password"}
    ok = await mail_api.call("POST", U + "confirm-email-change", json={"token": mail.token(), "password": "password123"})
    assert ok.status_code == 204
    reuse = await mail_api.call("POST", U + "confirm-email-change", json={"token": mail.token(), "password": "password123"})
    assert codes(reuse) == {"token": "validation_invalid_token", "password": "validation_invalid_password"}
    assert (await mail_api.call("GET", U + f"records/{user['id']}", token=token)).status_code == 404  # tokenKey rotated
    fresh = await mail_api.login("users", "fresh@example.com", "password123")
    me = (await mail_api.call("GET", U + f"records/{user['id']}", token=fresh)).json()
    assert me["email"] == "fresh@example.com" and me["verified"] is True


async def test_templates_escape_record_values(mail_api: Api, mail_sink: Any) -> None:
    body = "<p>Hello {RECORD:name} {RECORD:tokenKey}{RECORD:password} at {APP_NAME}: {APP_URL}/v/{TOKEN}</p>"
    res = await mail_api.su("PATCH", "/api/collections/users", json={
        "verificationTemplate": {"subject": "Hi {RECORD:name}", "body": body}})  # fmt: skip
    assert res.status_code == 200, res.text
    await make_user(mail_api, "esc@example.com", name="<script>x</script>{TOKEN}")
    await mail_api.call("POST", U + "request-verification", json={"email": "esc@example.com"})
    mail = (await mail_sink.receive("esc@example.com"))[0]
    assert mail.subject == "Hi <script>x</script>{TOKEN}"
    assert "Hello &lt;script&gt;x&lt;/script&gt;{TOKEN}  at Roost Test: http://app.test/v/ey" in mail.html
    assert "<script>" not in mail.html


async def test_settings_hide_the_smtp_password_and_send_test_mails(mail_api: Api, mail_sink: Any) -> None:
    res = await mail_api.su("PATCH", "/api/settings", json={"smtp": {"password": "pw-secret"}})
    assert res.status_code == 200 and "password" not in res.json()["smtp"]
    assert "password" not in (await mail_api.su("GET", "/api/settings")).json()["smtp"]
    bad = await mail_api.su("PATCH", "/api/settings", json={"smtp": {"enabled": True, "host": "", "port": 0}})
    assert codes_nested(bad)["smtp"] == {"host": "validation_required", "port": "validation_required"}
    res = await mail_api.su("POST", "/api/settings/test/email", json={})
    assert res.json()["message"] == "Failed to send the test email."
    assert codes(res) == {"email": "validation_required", "template": "validation_required"}
    res = await mail_api.su("POST", "/api/settings/test/email", json={"email": "x", "template": "nope", "collection": "nope"})
    assert codes(res) == {"email": "validation_is_email", "template": "validation_in_invalid", "collection": "validation_invalid_auth_collection"}
    assert (await mail_api.call("POST", "/api/settings/test/email", json={})).status_code == 401
    for template in ("verification", "password-reset", "email-change", "otp", "login-alert"):
        res = await mail_api.su("POST", "/api/settings/test/email", json={"email": "t@example.com", "template": template, "collection": "users"})
        assert res.status_code == 204, res.text
    subjects = [m.subject for m in mail_sink.to("t@example.com")]  # sent before the answer
    assert subjects == ["Confirm your Roost Test email address", "Reset your Roost Test password",
                        "Confirm your new Roost Test email address", "Your Roost Test sign-in code",
                        "New sign-in to your Roost Test account"]  # fmt: skip


def codes_nested(res: Any) -> dict[str, Any]:
    return {k: {f: e["code"] for f, e in v.items()} for k, v in res.json()["data"].items()}
