"""E-mail flows through the official JS SDK, with every mail received by a real SMTP server.

Both the reference server and Roost are pointed at the same kind of aiosmtpd sink through
``PATCH /api/settings``; the tests read the mails and follow their links and codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.mail_sink import MailSink

from .sdk import SdkDriver, code, js, step, superuser_login
from .servers import LiveServer

PASSWORD = "secret-pass-1"


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    mail = MailSink().start()
    yield mail
    mail.stop()


def setup_steps(server: LiveServer, sink: MailSink) -> list[dict[str, str]]:
    smtp = {**sink.smtp_settings(), "password": "smtp-secret"}
    meta = {"appName": "SdkMail", "appURL": "http://app.test", "senderName": "Sdk", "senderAddress": "no-reply@sdk.test"}
    return [superuser_login(server), step("smtp", f"pb.settings.update({{smtp: {js(smtp)}, meta: {js(meta)}}})"
                                                  ".then(s => s.smtp)")]  # fmt: skip


def sign_up(email: str) -> dict[str, str]:
    return step(f"sign up {email}", f"pb.collection('users').create({{email: {js(email)}, password: {js(PASSWORD)},"
                                    f" passwordConfirm: {js(PASSWORD)}}})")  # fmt: skip


def mail_with(sink: MailSink, address: str, action: str) -> Any:
    import time

    for _ in range(100):
        found = [m for m in sink.to(address) if m.links_to(action)]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {action} mail for {address}")


def test_verification_and_password_reset(server: LiveServer, sdk: SdkDriver, sink: MailSink) -> None:
    email = f"verify-{server.kind}@example.com"
    first = sdk.run(server.base_url, [
        *setup_steps(server, sink), sign_up(email),
        step("request verification", f"pb.collection('users').requestVerification({js(email)})"),
        step("request reset", f"pb.collection('users').requestPasswordReset({js(email)})"),
        step("unknown address", "pb.collection('users').requestPasswordReset('nobody@example.com')"),
    ])  # fmt: skip
    assert "password" not in first["smtp"].value
    assert first["request verification"].value is True and first["unknown address"].value is True
    verification = mail_with(sink, email, "confirm-verification").token()
    reset = mail_with(sink, email, "confirm-password-reset").token()
    second = sdk.run(server.base_url, [
        step("confirm verification", f"pb.collection('users').confirmVerification({js(verification)})"),
        step("wrong type", f"pb.collection('users').confirmVerification({js(reset)})"),
        step("confirm reset", f"pb.collection('users').confirmPasswordReset({js(reset)}, 'brand-new-1', 'brand-new-1')"),
        step("reset again", f"pb.collection('users').confirmPasswordReset({js(reset)}, 'brand-new-2', 'brand-new-2')"),
        step("old password", f"pb.collection('users').authWithPassword({js(email)}, {js(PASSWORD)})"),
        step("new password", f"pb.collection('users').authWithPassword({js(email)}, 'brand-new-1')"),
    ])  # fmt: skip
    assert second["confirm verification"].value is True
    assert second["wrong type"].error_codes() == {"token": "validation_invalid_token"}
    assert second["confirm reset"].value is True
    assert second["reset again"].error_codes() == {"token": "validation_invalid_token"}
    assert second["old password"].status == 400
    assert second["new password"].value["record"]["verified"] is True


def test_email_change(server: LiveServer, sdk: SdkDriver, sink: MailSink) -> None:
    email, new_email = f"change-{server.kind}@example.com", f"changed-{server.kind}@example.com"
    first = sdk.run(server.base_url, [
        *setup_steps(server, sink), sign_up(email),
        step("login", f"client('user').collection('users').authWithPassword({js(email)}, {js(PASSWORD)})"),
        step("same address", f"client('user').collection('users').requestEmailChange({js(email)})"),
        step("request change", f"client('user').collection('users').requestEmailChange({js(new_email)})"),
    ])  # fmt: skip
    assert first["same address"].error_codes() == {"newEmail": "validation_not_in_invalid"}
    assert first["request change"].value is True
    token = mail_with(sink, new_email, "confirm-email-change").token()
    second = sdk.run(server.base_url, [
        step("login", f"pb.collection('users').authWithPassword({js(email)}, {js(PASSWORD)})"),
        step("wrong password", f"pb.collection('users').confirmEmailChange({js(token)}, 'not-it')"),
        step("confirm", f"pb.collection('users').confirmEmailChange({js(token)}, {js(PASSWORD)})"),
        step("store cleared", "pb.authStore.isValid"),
        step("login with new", f"pb.collection('users').authWithPassword({js(new_email)}, {js(PASSWORD)})"),
    ])  # fmt: skip
    assert second["wrong password"].error_codes() == {"password": "validation_invalid_password"}
    assert second["confirm"].value is True
    assert second["store cleared"].value is False
    record = second["login with new"].value["record"]
    assert record["email"] == new_email and record["verified"] is True


def test_otp_login_and_mfa(server: LiveServer, sdk: SdkDriver, sink: MailSink) -> None:
    email = f"otp-{server.kind}@example.com"
    auth_fields = ("[{name: 'email', type: 'email', required: true}]")
    first = sdk.run(server.base_url, [
        *setup_steps(server, sink),
        step("create collection", f"pb.collections.create({{name: 'otp_members', type: 'auth', fields: {auth_fields},"
                                  " createRule: '', otp: {enabled: true}, mfa: {enabled: true}})"),
        step("methods", "pb.collection('otp_members').listAuthMethods()"),
        step("sign up", f"pb.collection('otp_members').create({{email: {js(email)}, password: {js(PASSWORD)},"
                        f" passwordConfirm: {js(PASSWORD)}}})"),
        step("password first", f"client('u').collection('otp_members').authWithPassword({js(email)}, {js(PASSWORD)})"),
        step("otp", f"client('u').collection('otp_members').requestOTP({js(email)})"),
        step("fake otp", "client('u').collection('otp_members').requestOTP('ghost@example.com')"),
    ])  # fmt: skip
    methods = first["methods"].value
    assert methods["otp"] == {"enabled": True, "duration": 180} and methods["mfa"] == {"enabled": True, "duration": 600}
    challenge = first["password first"]
    assert challenge.status == 401 and list(challenge.response) == ["mfaId"]
    mfa_id = challenge.response["mfaId"]
    otp_id = first["otp"].value["otpId"]
    assert len(first["fake otp"].value["otpId"]) == 15
    digits = sink.last(email).code()
    second = sdk.run(server.base_url, [
        step("same method", f"pb.collection('otp_members').authWithPassword({js(email)}, {js(PASSWORD)}, {{mfaId: {js(mfa_id)}}})"),
        step("wrong code", f"pb.collection('otp_members').authWithOTP({js(otp_id)}, '00000000x', {{mfaId: {js(mfa_id)}}})"),
        step("otp second", f"pb.collection('otp_members').authWithOTP({js(otp_id)}, {js(digits)}, {{mfaId: {js(mfa_id)}}})"),
        code("store", "return {valid: pb.authStore.isValid, email: pb.authStore.record.email}"),
        step("refresh", "pb.collection('otp_members').authRefresh()"),
    ])  # fmt: skip
    assert second["same method"].response["message"] == "A different authentication method is required."
    assert second["wrong code"].response["message"] == "Invalid or expired OTP."
    assert second["otp second"].value["record"]["email"] == email
    assert second["store"].value == {"valid": True, "email": email}
    assert second["refresh"].value["record"]["verified"] is True
