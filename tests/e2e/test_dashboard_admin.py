"""The dashboard's administration pages in Chromium against ``roost serve``: the auth options of
a collection (OAuth2 providers, token lifetimes, e-mail templates), the superusers page, and the
rate-limit, trusted-proxy and backup-schedule settings, each checked through the public API or
by its effect (a 429, the address the server sees, a token's lifetime).

The fixtures are the ones of ``test_dashboard_browser``: each test fails on a console error, a
failed request or an HTTP error answer it does not provoke on purpose.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx

from tests.mail_sink import MailSink

from . import test_dashboard_browser as dashboard
from .test_dashboard_browser import (
    EMAIL,
    Problems,
    Served,
    serve_with_superuser,
    sign_in,
    superuser_client,
    wait_until,
)

chromium = dashboard.chromium
page = dashboard.page
problems = dashboard.problems
roost = dashboard.roost


def open_section(dialog: Any, title: str) -> None:
    dialog.locator("summary", has_text=re.compile(f"^{re.escape(title)}")).click()


def edit_collection(page: Any, name: str) -> Any:
    page.get_by_role("button", name=f"Edit collection {name}").click()
    return page.get_by_role("dialog")


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_oauth2_provider_token_lifetime_and_email_template(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    dialog = edit_collection(page, "users")
    dialog.locator("summary", has_text="OAuth2").focus()  # a section opens from the keyboard
    page.keyboard.press("Enter")
    dialog.get_by_label("OAuth2 sign-in").check()
    dialog.get_by_label("Provider to add").select_option(label="Google")
    dialog.get_by_role("button", name="Add provider").click()
    google = dialog.get_by_role("group", name="Google")
    google.get_by_label("Client ID").fill("google-client-1")
    google.get_by_label("Client secret").fill("google-secret-1")
    google.get_by_label("Display name (empty: the provider's own)").fill("Sign in with Google")
    google.locator("summary", has_text="Advanced").click()
    google.get_by_label("PKCE").select_option(label="off")
    options = google.get_by_label("Provider options (JSON object)")
    options.fill('{"hd": ')
    options.and_(page.locator("[aria-invalid=true]")).wait_for()  # checked as typed, never sent unparsed
    options.fill('{"hd": "example.com"}')
    open_section(dialog, "Token lifetimes")
    dialog.get_by_label("Auth token lifetime (seconds)").fill("3600")
    open_section(dialog, "E-mail templates")
    dialog.get_by_label("Verification subject").fill("Welcome to {APP_NAME}, please confirm")
    dialog.get_by_label("Verification body (HTML)").fill('<p><a href="{APP_URL}/confirm/{TOKEN}">Confirm</a></p>')
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")

    methods = httpx.get(f"{roost.url}/api/collections/users/auth-methods").json()
    assert methods["oauth2"]["enabled"] is True
    assert [(p["name"], p["displayName"]) for p in methods["oauth2"]["providers"]] == [("google", "Sign in with Google")]
    with superuser_client(roost.url) as su:
        saved = su.get("/api/collections/users").json()
        body = {"email": "lifetime@example.com", "password": "lifetime-pass-1", "passwordConfirm": "lifetime-pass-1"}
        assert su.post("/api/collections/users/records", json=body).status_code == 200
    assert saved["authToken"]["duration"] == 3600
    assert saved["verificationTemplate"] == {
        "subject": "Welcome to {APP_NAME}, please confirm",
        "body": '<p><a href="{APP_URL}/confirm/{TOKEN}">Confirm</a></p>',
    }
    google_saved = saved["oauth2"]["providers"][0]
    assert google_saved["clientId"] == "google-client-1" and "clientSecret" not in google_saved
    assert google_saved["pkce"] is False and google_saved["extra"] == {"hd": "example.com"}
    signed = httpx.post(f"{roost.url}/api/collections/users/auth-with-password",
                        json={"identity": "lifetime@example.com", "password": "lifetime-pass-1"})  # fmt: skip
    assert 3000 < claims(signed.json()["token"])["exp"] - time.time() <= 3600  # the new lifetime, not the 7-day default

    # saving again without retyping the client secret keeps it (the provider stays valid); a new
    # auth token secret ends the tokens issued so far
    refresh = f"{roost.url}/api/collections/users/auth-refresh"
    assert httpx.post(refresh, headers={"Authorization": signed.json()["token"]}).status_code == 200
    dialog = edit_collection(page, "users")
    open_section(dialog, "OAuth2")
    assert dialog.get_by_role("group", name="Google").get_by_text("Saved; type to replace it.").count() == 1
    open_section(dialog, "Token lifetimes")
    dialog.get_by_label("New auth token secret").check()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    assert httpx.get(f"{roost.url}/api/collections/users/auth-methods").json()["oauth2"]["providers"][0]["name"] == "google"
    assert httpx.post(refresh, headers={"Authorization": signed.json()["token"]}).status_code == 401


def test_oauth2_provider_errors_show_beside_their_inputs(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["PATCH http://127.0.0.1", "status of 400"]
    sign_in(page, roost.url)
    dialog = edit_collection(page, "users")
    open_section(dialog, "OAuth2")
    dialog.get_by_label("OAuth2 sign-in").check()
    dialog.get_by_label("Provider to add").select_option(label="GitHub")
    dialog.get_by_role("button", name="Add provider").click()
    dialog.get_by_role("button", name="Save changes").click()
    github = dialog.get_by_role("group", name="GitHub")
    client_id = github.get_by_label("Client ID")
    client_id.and_(page.locator("[aria-invalid=true]")).wait_for()
    assert page.locator(f"#{client_id.get_attribute('aria-describedby')}").text_content() == "Cannot be blank."
    assert github.get_by_label("Client secret").get_attribute("aria-invalid") == "true"
    wait_until(page, "document.activeElement && document.activeElement.getAttribute('aria-invalid') === 'true'")
    assert client_id.evaluate("input => input === document.activeElement")  # focus moves to the first error
    page.keyboard.press("Escape")
    with superuser_client(roost.url) as su:
        names = [p["name"] for p in su.get("/api/collections/users").json()["oauth2"]["providers"]]
    assert "github" not in names


def test_superusers_create_sign_in_change_password_and_delete(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("link", name="Superusers").click()
    page.get_by_role("heading", name="Superusers").wait_for()
    page.get_by_role("button", name="New superuser").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Email").fill("second@example.com")
    dialog.get_by_label("Password", exact=True).fill("second-password-1")
    dialog.get_by_label("Password again").fill("second-password-1")
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("cell", name="second@example.com", exact=True).wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("second@example.com")
    page.get_by_label("Password").fill("second-password-1")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Collections").wait_for()

    page.get_by_role("link", name="Superusers").click()
    page.get_by_role("button", name="Edit superuser second@example.com").click()
    dialog.get_by_label("New password (leave empty to keep)").fill("second-password-2")
    dialog.get_by_label("Password again").fill("second-password-2")
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    page.get_by_role("cell", name=EMAIL, exact=True).wait_for()  # still signed in: the page signed in again
    old = httpx.post(f"{roost.url}/api/collections/_superusers/auth-with-password",
                     json={"identity": "second@example.com", "password": "second-password-1"})  # fmt: skip
    assert old.status_code == 400

    page.get_by_role("button", name="Edit superuser second@example.com").click()
    dialog.get_by_role("button", name="Delete superuser").click()
    dialog.get_by_role("button", name="Really delete second@example.com").click()
    page.get_by_role("heading", name="Superuser sign-in").wait_for()  # deleting oneself signs out
    with superuser_client(roost.url) as su:
        emails = [r["email"] for r in su.get("/api/collections/_superusers/records").json()["items"]]
    assert EMAIL in emails and "second@example.com" not in emails


def test_rate_limit_rule_is_applied(page: Any) -> None:
    served = serve_with_superuser()
    try:
        sign_in(page, served.url)
        page.goto(f"{served.url}/_/settings/ratelimits")
        page.get_by_label("Enable rate limiting").check()
        page.get_by_role("button", name="Add rule").click()
        rule = page.get_by_role("group", name="Rule 5")
        rule.get_by_label("Label").fill("GET /api/health")
        rule.get_by_label("Max requests").fill("2")
        rule.get_by_label("Per (seconds)").fill("3600")
        page.get_by_role("button", name="Remove rule 1").click()  # the rows below move up, values and all
        first = page.get_by_role("group", name="Rule 1")
        assert first.get_by_label("Label").input_value() == "*:create" and first.get_by_label("Max requests").input_value() == "20"
        assert page.get_by_role("group", name="Rule 4").get_by_label("Per (seconds)").input_value() == "3600"
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("status").get_by_text("Saved.").wait_for()
        statuses = [httpx.get(f"{served.url}/api/health").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        with superuser_client(served.url) as su:
            limits = su.get("/api/settings").json()["rateLimits"]
        assert limits["enabled"] is True
        assert [r["label"] for r in limits["rules"]] == ["*:create", "/api/batch", "/api/", "GET /api/health"]
        assert limits["rules"][-1] == {"label": "GET /api/health", "audience": "", "duration": 3600, "maxRequests": 2}
    finally:
        served.stop()


def test_trusted_proxy_changes_the_address_the_server_sees(chromium: Any, roost: Served) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"})
    context.set_default_timeout(15_000)
    problems = Problems()
    tab = context.new_page()
    problems.watch(tab)
    try:
        sign_in(tab, roost.url)
        tab.get_by_role("link", name="Settings").click()
        tab.get_by_text("The server sees your address as 127.0.0.1.").wait_for()
        tab.get_by_label("Trusted proxy headers (comma separated, e.g. X-Forwarded-For)").fill("X-Forwarded-For")
        tab.get_by_label("Use the leftmost IP of the header").check()
        tab.get_by_role("button", name="Save changes").click()
        tab.get_by_role("status").get_by_text("Saved.").wait_for()
        tab.get_by_text("The server sees your address as 203.0.113.9.").wait_for()
        with superuser_client(roost.url) as su:
            proxy = su.get("/api/settings").json()["trustedProxy"]
            assert su.patch("/api/settings", json={"trustedProxy": {"headers": [], "useLeftmostIP": False}}).status_code == 200
        assert proxy == {"headers": ["X-Forwarded-For"], "useLeftmostIP": True}
    finally:
        context.close()
    assert problems.seen == []


def test_backup_schedule_with_a_field_error(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["PATCH http://127.0.0.1", "status of 400"]
    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/settings/backups")
    cron = page.get_by_label("Automatic backups (cron expression; empty: off)")
    cron.fill("every night")
    page.get_by_role("button", name="Save changes").click()
    cron.and_(page.locator("[aria-invalid=true]")).wait_for()
    wait_until(page, "document.activeElement && document.activeElement.getAttribute('aria-invalid') === 'true'")
    assert "cron" in (page.locator(f"#{cron.get_attribute('aria-describedby')}").text_content() or "")
    cron.fill("0 3 * * *")
    page.get_by_label("Automatic backups to keep").fill("2")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("status").get_by_text("Saved.").wait_for()
    with superuser_client(roost.url) as su:
        backups = su.get("/api/settings").json()["backups"]
    assert backups["cron"] == "0 3 * * *" and backups["cronMaxKeep"] == 2


def test_roost_auth_options_with_errors_beside_them(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["PATCH http://127.0.0.1", "status of 400"]
    with superuser_client(roost.url) as su:
        assert su.post("/api/collections", json={"name": "members", "type": "auth"}).status_code == 200
    sign_in(page, roost.url)
    dialog = edit_collection(page, "members")
    open_section(dialog, "Password")
    dialog.get_by_label("Password sign-in").uncheck()
    open_section(dialog, "Multi-factor authentication (MFA)")
    mfa = dialog.get_by_label("Multi-factor authentication (MFA)", exact=True)
    mfa.check()
    open_section(dialog, "Passkeys")
    origins = dialog.get_by_label("Allowed origins (comma separated; empty: the app URL)")
    origins.fill("ftp://files.example.com")
    open_section(dialog, "Cookie sessions")
    dialog.get_by_label("Allow logins into an HttpOnly cookie session").check()
    lifetime = dialog.get_by_label("Session lifetime (seconds)")
    lifetime.fill("5")
    dialog.get_by_role("button", name="Save changes").click()
    for control in (mfa, origins, lifetime):
        control.and_(page.locator("[aria-invalid=true]")).wait_for()
    assert "2 auth methods" in (page.locator(f"#{mfa.get_attribute('aria-describedby')}").text_content() or "")

    origins.fill("https://app.example.com, https://admin.example.com")
    lifetime.fill("3600")
    dialog.get_by_label("Passkey sign-in").check()
    open_section(dialog, "Authenticator app (TOTP)")
    dialog.get_by_label("TOTP sign-in with an identity and a code").check()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    with superuser_client(roost.url) as su:
        saved = su.get("/api/collections/members").json()
    assert saved["passwordAuth"]["enabled"] is False and saved["mfa"]["enabled"] is True
    assert saved["passkey"]["enabled"] is True
    assert saved["passkey"]["origins"] == ["https://app.example.com", "https://admin.example.com"]
    assert saved["totp"]["enabled"] is True
    assert saved["cookieSessions"] == {"enabled": True, "duration": 3600}


def test_list_inputs_keep_what_is_typed(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("button", name="New collection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("moods")
    dialog.get_by_label("New field type").select_option("select")
    dialog.get_by_role("button", name="Add field").click()
    dialog.get_by_label("Field 1 name").fill("mood")
    values = dialog.get_by_label("Values (comma separated)")
    values.press_sequentially("happy, sad")  # key by key: the comma must survive the re-render
    assert values.input_value() == "happy, sad"
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="moods").wait_for()
    with superuser_client(roost.url) as su:
        fields = su.get("/api/collections/moods").json()["fields"]
    assert [f["values"] for f in fields if f["name"] == "mood"] == [["happy", "sad"]]


def test_an_edited_email_template_is_the_one_sent(page: Any) -> None:
    served, sink = serve_with_superuser(), MailSink().start()
    try:
        with superuser_client(served.url) as su:
            assert su.patch("/api/settings", json={"smtp": sink.smtp_settings()}).status_code == 200
        sign_in(page, served.url)
        dialog = edit_collection(page, "users")
        open_section(dialog, "E-mail templates")
        dialog.get_by_label("Password reset subject").fill("Reset for {APP_NAME} users")
        dialog.get_by_label("Password reset body (HTML)").fill("<p>Choose a password: {APP_URL}/reset/{TOKEN}</p>")
        dialog.get_by_role("button", name="Save changes").click()
        dialog.wait_for(state="detached")

        page.goto(f"{served.url}/_/settings/mail")
        page.get_by_label("To", exact=True).fill("inbox@example.com")
        page.get_by_label("Template", exact=True).select_option("password-reset")
        page.get_by_label("Templates of").select_option("users")
        page.get_by_role("button", name="Send", exact=True).click()
        page.get_by_role("status").get_by_text("Test e-mail sent to inbox@example.com.").wait_for()
        [mail] = sink.to("inbox@example.com")
        assert mail.subject == "Reset for Acme users"
        assert "Choose a password: http://localhost:8090/reset/" in mail.html
    finally:
        sink.stop()
        served.stop()
