"""The dashboard at /_/ in a real Chromium (Playwright driving Debian's /usr/bin/chromium)
against a fresh ``roost serve``: first-run superuser creation from the link ``serve`` prints,
sign-in, the collection editor, and records with a file upload, a relation and a filter.

Every test fails on a console error, an uncaught page error, a failed request or an HTTP error
answer, so the happy paths below must run clean.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mail_sink import MailSink, ReceivedMail

from .conftest import skip_unavailable
from .servers import REPO_ROOT, RoostNotReady, _subprocess_env, free_port, server_kind
from .test_browser_sessions import CHROMIUM, CHROMIUM_ARGS

EMAIL, PASSWORD = "owner@example.com", "owner-password-1"
LINK = re.compile(r"(http://[^\s\"]+/_/#/install/[^\s\"]+)")  # in a JSON log line or plain text


@dataclass
class Served:
    url: str
    install_link: str
    process: subprocess.Popen[bytes]
    data: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.data.cleanup()


def _otp_mails(sink: MailSink) -> list[ReceivedMail]:
    return [mail for mail in sink.to(EMAIL) if re.search(r"(?<![0-9])[0-9]{8}(?![0-9])", mail.text or mail.html)]


def serve_fresh() -> Served:
    """``roost serve`` on a fresh data dir with no superuser; returns once the link is printed."""
    for _ in range(3):  # another process may take the free port before the server binds it
        served = _serve_fresh()
        if served is not None:
            return served
    raise AssertionError("roost serve found no free port three times")


def _serve_fresh() -> Served | None:
    try:
        command = server_kind("roost").base_command
    except RoostNotReady as exc:
        pytest.skip(str(exc))
    data = tempfile.TemporaryDirectory(prefix="roost-dash-")
    port = free_port()
    out = Path(data.name) / "serve.out"
    with out.open("wb") as sink:
        process = subprocess.Popen([*command, "serve", "--http", f"127.0.0.1:{port}", "--dir", f"{data.name}/pb"],
                                   cwd=REPO_ROOT, env=_subprocess_env(), stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        found = LINK.search(out.read_text(errors="replace"))
        if found and _healthy(url):
            return Served(url, found.group(1), process, data)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    printed = out.read_text(errors="replace")
    data.cleanup()
    if "already in use" in printed:
        return None
    raise AssertionError(f"roost serve printed no first-run link:\n{printed[-2000:]}")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_unavailable("playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        skip_unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Problems:
    seen: list[str] = field(default_factory=list)
    #: substrings of problems a test expects (an API refusal the page is built to handle)
    allowed: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [seen for seen in self.seen if not any(allowed in seen for allowed in self.allowed)]

    def _failed(self, req: Any) -> None:
        # a read the page itself cancels when a newer one replaces it (the grid reloading while
        # the previous page of records is still on its way) is not a failure
        if req.method == "GET" and "ERR_ABORTED" in str(req.failure):
            return
        self.seen.append(f"failed: {req.method} {req.url} {req.failure}")

    def watch(self, page: Any) -> None:
        page.on("console", lambda msg: msg.type == "error" and self.seen.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.seen.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda res: res.status >= 400 and self.seen.append(f"HTTP {res.status}: {res.request.method} {res.url}"))


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def page(chromium: Any, problems: Problems) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems.watch(tab)
    yield tab
    context.close()
    assert problems.unexpected() == []


def serve_with_superuser() -> Served:
    """A fresh server whose first superuser was created through the first-run link (over HTTP)."""
    served = serve_fresh()
    token = served.install_link.rsplit("/", 1)[1]
    with httpx.Client(base_url=served.url) as client:
        body = {"email": EMAIL, "password": PASSWORD, "passwordConfirm": PASSWORD}
        created = client.post("/api/collections/_superusers/records", json=body, headers={"Authorization": token})
        assert created.status_code == 200, created.text
    return served


@pytest.fixture(scope="module")
def roost() -> Iterator[Served]:
    served = serve_with_superuser()
    yield served
    served.stop()


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/_/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Collections").wait_for()


def wait_until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` in the page until it is truthy. Playwright's ``wait_for_function``
    polls by evaluating a string inside the page, which the dashboard's Content-Security-Policy
    (no ``unsafe-eval``) refuses once the first look is false; ``evaluate`` is not affected."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


def superuser_client(url: str) -> httpx.Client:
    signed = httpx.post(f"{url}/api/collections/_superusers/auth-with-password", json={"identity": EMAIL, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return httpx.Client(base_url=url, headers={"Authorization": signed.json()["token"]})


def test_first_run_creates_the_superuser_and_signs_in(page: Any) -> None:
    served = serve_fresh()
    try:
        page.goto(served.install_link)
        page.get_by_role("heading", name="Create the first superuser").wait_for()
        page.get_by_label("Email").fill("first@example.com")
        page.get_by_label("Password", exact=True).fill("first-password-1")
        page.get_by_label("Password again").fill("first-password-1")
        page.get_by_role("button", name="Create superuser and sign in").click()
        page.get_by_role("heading", name="Collections").wait_for()
        assert page.url == f"{served.url}/_/collections"
        signed = httpx.post(f"{served.url}/api/collections/_superusers/auth-with-password",
                            json={"identity": "first@example.com", "password": "first-password-1"})  # fmt: skip
        listed = httpx.get(f"{served.url}/api/collections/_superusers/records", headers={"Authorization": signed.json()["token"]})
        assert [r["email"] for r in listed.json()["items"]] == ["first@example.com"]  # the placeholder is gone
    finally:
        served.stop()


def test_sign_in_reload_deep_link_and_sign_out(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/collections/users")  # a deep link, served by the fallback
    page.get_by_role("heading", name=re.compile("users")).wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Superuser sign-in").wait_for()
    page.goto(f"{roost.url}/_/collections")
    page.get_by_role("heading", name="Superuser sign-in").wait_for()


def test_theme_toggle_and_keyboard_navigation(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("button", name=re.compile("Switch to")).click()
    first = page.evaluate("document.documentElement.dataset.theme")
    page.reload()
    page.get_by_role("heading", name="Collections").wait_for()
    assert page.evaluate("document.documentElement.dataset.theme") == first
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_collection_editor_creates_fields_and_rules(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("button", name="New collection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("articles")
    for index, (name, kind) in enumerate((("title", "text"), ("status", "select"), ("cover", "file"), ("author", "relation"))):
        dialog.get_by_label("New field type").select_option(kind)
        dialog.get_by_role("button", name="Add field").click()
        dialog.get_by_label(f"Field {index + 1} name").fill(name)
    dialog.get_by_label("Values (comma separated)").fill("draft, published")
    dialog.get_by_label("Related collection").select_option(label="users")
    dialog.get_by_label("Required").first.check()
    list_rule = dialog.locator(".rule").first
    list_rule.get_by_label("Superusers only").uncheck()
    rule = list_rule.get_by_label("List/Search rule")
    rule.press_sequentially("sta")  # the field name is suggested as it is typed
    list_rule.get_by_role("option", name="status", exact=True).click()
    assert rule.input_value() == "status"
    rule.press_sequentially(' = "published"')
    dialog.locator(".rule").nth(1).get_by_label("Superusers only").uncheck()
    dialog.get_by_label("Indexes (one CREATE INDEX statement a line)").fill("CREATE INDEX idx_articles_title ON articles (title)")
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="articles").wait_for()

    with superuser_client(roost.url) as su:
        saved = su.get("/api/collections/articles").json()
    fields = {f["name"]: f for f in saved["fields"]}
    assert fields["title"]["type"] == "text" and fields["title"]["required"] is True
    assert fields["status"]["values"] == ["draft", "published"]
    assert fields["cover"]["type"] == "file"
    assert fields["author"]["type"] == "relation" and fields["author"]["collectionId"] == "_pb_users_auth_"
    assert saved["listRule"] == 'status = "published"' and saved["viewRule"] == "" and saved["createRule"] is None
    assert saved["indexes"] == ["CREATE INDEX idx_articles_title ON articles (title)"]

    page.get_by_role("button", name="Edit collection articles").click()
    dialog.get_by_label("Name", exact=True).fill("stories")
    dialog.get_by_role("button", name="Save changes").click()
    page.get_by_role("link", name="stories").wait_for()
    page.get_by_role("button", name="Edit collection stories").click()
    dialog.get_by_role("button", name="Delete collection").click()
    dialog.get_by_role("button", name="Really delete stories").click()
    page.get_by_role("link", name="stories").wait_for(state="detached")


def test_records_create_edit_delete_with_file_and_relation_and_filter(page: Any, roost: Served, tmp_path: Path) -> None:
    with superuser_client(roost.url) as su:
        user = su.post("/api/collections/users/records", json={"email": "writer@example.com", "name": "Writer",
                       "password": "writer-pass-1", "passwordConfirm": "writer-pass-1"}).json()  # fmt: skip
        created = su.post("/api/collections", json={"name": "notes", "type": "base", "fields": [
            {"name": "title", "type": "text", "required": True},
            {"name": "kind", "type": "select", "values": ["idea", "todo"], "maxSelect": 1},
            {"name": "attachment", "type": "file", "maxSelect": 1},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
        ]})  # fmt: skip
        assert created.status_code == 200, created.text
        su.post("/api/collections/notes/records", json={"title": "older note", "kind": "todo"})
    upload = tmp_path / "hello.txt"
    upload.write_text("hello from the dashboard")

    sign_in(page, roost.url)
    page.get_by_role("link", name="notes").click()
    page.get_by_role("button", name="New record").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("title *").fill("first note")
    dialog.get_by_label("kind", exact=True).select_option("idea")
    dialog.get_by_label("attachment", exact=True).set_input_files(str(upload))
    dialog.get_by_label("owner", exact=True).fill("writer")
    dialog.get_by_role("button", name=re.compile("Writer")).click()
    dialog.get_by_role("button", name="Create").click()
    grid = page.locator("table.grid")
    grid.get_by_text("first note").wait_for()
    grid.locator(".chip", has_text="Writer").wait_for()  # the relation cell names the related record

    with superuser_client(roost.url) as su:
        record = su.get("/api/collections/notes/records", params={"filter": 'title = "first note"'}).json()["items"][0]
        assert record["kind"] == "idea" and record["owner"] == user["id"]
        assert record["attachment"].startswith("hello") and record["attachment"].endswith(".txt")
        body = su.get(f"/api/files/notes/{record['id']}/{record['attachment']}")
        assert body.text == "hello from the dashboard"

    page.get_by_label("Filter").fill('kind = "idea"')
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Page 1 of 1 · 1 records").wait_for()
    assert grid.get_by_text("older note").count() == 0

    page.get_by_role("button", name=f"Edit record {record['id']}").click()
    dialog.get_by_label("title *").fill("renamed note")
    dialog.get_by_role("button", name="Remove", exact=True).click()
    dialog.get_by_role("button", name="Save changes").click()
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Apply").click()
    grid.get_by_text("renamed note").wait_for()
    with superuser_client(roost.url) as su:
        edited = su.get(f"/api/collections/notes/records/{record['id']}").json()
    assert edited["title"] == "renamed note" and edited["attachment"] == ""

    page.get_by_role("button", name=f"Edit record {record['id']}").click()
    dialog.get_by_role("button", name="Delete record").click()
    dialog.get_by_role("button", name="Really delete this record").click()
    grid.get_by_text("renamed note").wait_for(state="detached")
    page.get_by_text("Page 1 of 1 · 1 records").wait_for()
    with superuser_client(roost.url) as su:
        assert su.get(f"/api/collections/notes/records/{record['id']}").status_code == 404


def test_settings_change_and_test_email(page: Any, roost: Served) -> None:
    sink = MailSink().start()
    try:
        sign_in(page, roost.url)
        page.get_by_role("link", name="Settings").click()
        page.get_by_label("Application name").fill("Dashboard Test App")
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("status").get_by_text("Saved.").wait_for()

        page.get_by_role("link", name="Mail").click()
        page.get_by_label("Sender address").fill("robot@example.com")
        page.get_by_label("Send mail through this SMTP server").check()
        page.get_by_label("Host").fill(sink.host)
        page.get_by_label("Port").fill(str(sink.port))
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("status").get_by_text("Saved.").wait_for()
        page.get_by_label("To", exact=True).fill("inbox@example.com")
        page.get_by_role("button", name="Send", exact=True).click()
        page.get_by_role("status").get_by_text("Test e-mail sent to inbox@example.com.").wait_for()
        assert len(sink.to("inbox@example.com")) == 1

        with superuser_client(roost.url) as su:
            saved = su.get("/api/settings").json()
        assert saved["meta"]["appName"] == "Dashboard Test App"
        assert saved["meta"]["senderAddress"] == "robot@example.com"
        assert saved["smtp"]["enabled"] is True and saved["smtp"]["port"] == sink.port
    finally:
        sink.stop()


def test_request_logs_backups_and_crons(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("link", name="Logs").click()
    rows = page.locator("table.grid tbody tr")
    rows.filter(has_text="/api/collections").first.wait_for()
    page.get_by_label("Filter").fill('data.url ~ "auth-with-password"')
    page.get_by_role("button", name="Apply").click()
    page.get_by_text(re.compile(r"Page 1 of 1 · \d+ entries")).wait_for()
    assert rows.filter(has_text="/api/collections?").count() == 0
    rows.first.get_by_role("button", name=re.compile("Details")).click()
    page.get_by_role("dialog").locator("dd", has_text="auth-with-password").wait_for()
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Backups").click()
    page.get_by_label("Name (optional, ends in .zip)").fill("from_dashboard.zip")
    page.get_by_role("button", name="Create backup").click()
    page.get_by_text("from_dashboard.zip").wait_for()
    page.get_by_role("button", name="Delete backup from_dashboard.zip").click()
    page.get_by_role("button", name="Really delete").click()
    page.get_by_text("No backups yet.").wait_for()

    page.get_by_role("link", name="Crons").click()
    page.get_by_role("button", name="Run __pbLogsCleanup__ now").click()
    page.get_by_role("status").get_by_text("Started __pbLogsCleanup__.").wait_for()


def test_small_screen_menu(chromium: Any, roost: Served) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    problems = Problems()
    tab = context.new_page()
    problems.watch(tab)
    try:
        sign_in(tab, roost.url)
        nav = tab.get_by_role("navigation", name="Main")
        assert not nav.is_visible()
        tab.get_by_role("button", name="Menu").click()
        nav.get_by_role("link", name="Crons").click()
        tab.get_by_role("heading", name="Cron jobs").wait_for()
        assert not nav.is_visible()
        tab.get_by_role("button", name="Menu").click()
        nav.get_by_role("link", name="Logs").focus()
        tab.keyboard.press("Escape")  # closes the menu and returns focus to its button
        nav.wait_for(state="hidden")
        assert tab.evaluate("document.activeElement.textContent.trim()") == "Menu"
    finally:
        context.close()
    assert problems.seen == []


def test_auth_options_then_sign_in_with_mfa(page: Any, problems: Problems) -> None:
    served, sink = serve_with_superuser(), MailSink().start()
    try:
        with superuser_client(served.url) as su:
            assert su.patch("/api/settings", json={"smtp": sink.smtp_settings()}).status_code == 200
        sign_in(page, served.url)
        page.get_by_label("Show system collections").check()
        page.get_by_role("button", name="Edit collection _superusers").click()
        dialog = page.get_by_role("dialog")
        dialog.locator("summary", has_text="One-time password (OTP)").click()
        dialog.get_by_label("One-time password (OTP) sign-in").check()
        dialog.locator("summary", has_text="Multi-factor authentication (MFA)").click()
        dialog.get_by_label("Multi-factor authentication (MFA)", exact=True).check()
        dialog.get_by_role("button", name="Save changes").click()
        dialog.wait_for(state="detached")
        token = page.evaluate("localStorage.getItem('roost.dashboard.token')")
        saved = httpx.get(f"{served.url}/api/collections/_superusers", headers={"Authorization": token}).json()
        assert saved["otp"]["enabled"] is True and saved["mfa"]["enabled"] is True
        first = httpx.post(f"{served.url}/api/collections/_superusers/auth-with-password", json={"identity": EMAIL, "password": PASSWORD})
        assert first.status_code == 401 and first.json()["mfaId"]  # the second factor is now required
        page.get_by_role("button", name="Sign out").click()

        # the password step is answered 401 with an mfaId, which the page turns into the OTP step
        problems.allowed += ["/api/collections/_superusers/auth-with-password", "status of 401"]
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("heading", name="Second step: one-time password").wait_for()
        for _ in range(100):  # the OTP mail; a sign-in alert may arrive to the same address too
            if _otp_mails(sink):
                break
            time.sleep(0.1)
        page.get_by_label("One-time password", exact=True).fill(_otp_mails(sink)[-1].code())
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("heading", name="Collections").wait_for()
    finally:
        sink.stop()
        served.stop()


def test_bulk_delete_and_column_choice(page: Any, roost: Served) -> None:
    with superuser_client(roost.url) as su:
        created = su.post("/api/collections", json={"name": "chores", "type": "base", "fields": [
            {"name": "task", "type": "text"}, {"name": "done", "type": "bool"}]})  # fmt: skip
        assert created.status_code == 200, created.text
        for task in ("sweep", "dust", "mop"):
            su.post("/api/collections/chores/records", json={"task": task})
    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/collections/chores")
    grid = page.locator("table.grid")
    grid.get_by_text("sweep").wait_for()
    page.get_by_role("button", name="Columns").click()
    page.get_by_role("group", name="Columns").get_by_label("done").uncheck()
    assert grid.get_by_role("button", name="done").count() == 0
    page.reload()
    grid.get_by_text("sweep").wait_for()
    assert grid.get_by_role("button", name="done").count() == 0  # the choice is remembered
    grid.get_by_role("button", name="task", exact=True).click()  # sort by task
    wait_until(page, "document.querySelector('th[aria-sort=ascending]') !== null")
    grid.locator("tbody tr").first.get_by_text("dust").wait_for()

    page.get_by_label("Select all records on this page").check()
    page.get_by_label(re.compile("Select record")).last.uncheck()
    page.get_by_role("button", name="Delete selected").click()
    page.get_by_role("button", name="Really delete 2 records").click()
    page.get_by_text("Page 1 of 1 · 1 records").wait_for()
    with superuser_client(roost.url) as su:
        left = su.get("/api/collections/chores/records", params={"sort": "task"}).json()["items"]
    assert [r["task"] for r in left] == ["sweep"]


def test_file_storage_settings_and_s3_test(page: Any, s3_server: Any) -> None:
    served = serve_with_superuser()
    try:
        bucket = s3_server.new_bucket()
        wanted = s3_server.settings(bucket)
        sign_in(page, served.url)
        page.goto(f"{served.url}/_/settings/storage")
        page.get_by_label("Store files in S3-compatible storage").check()
        for label, key in (("Endpoint", "endpoint"), ("Bucket", "bucket"), ("Region", "region"), ("Access key", "accessKey"),
                           ("Secret (leave empty to keep)", "secret")):  # fmt: skip
            page.get_by_label(label, exact=True).fill(str(wanted[key]))
        if wanted.get("forcePathStyle"):
            page.get_by_label("Force path-style addressing").check()
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("status").get_by_text("Saved.").wait_for()
        page.get_by_role("button", name="Test the saved S3 connection").click()
        page.get_by_role("status").get_by_text("The S3 connection works.").wait_for()
        with superuser_client(served.url) as su:
            s3 = su.get("/api/settings").json()["s3"]
        assert s3["enabled"] is True and s3["bucket"] == bucket and "secret" not in s3
    finally:
        served.stop()


def test_api_errors_show_beside_their_fields(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["POST http://127.0.0.1", "status of 400"]  # the refusals this test provokes
    sign_in(page, roost.url)
    page.get_by_role("button", name="New collection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("bad name!")
    dialog.get_by_label("New field type").select_option("select")
    dialog.get_by_role("button", name="Add field").click()
    dialog.get_by_label("Field 1 name").fill("mood")
    dialog.get_by_role("button", name="Create").click()
    dialog.get_by_role("alert").first.wait_for()
    name = dialog.get_by_label("Name", exact=True)
    assert name.get_attribute("aria-invalid") == "true"
    message = page.locator(f"#{name.get_attribute('aria-describedby')}")
    assert message.text_content()
    values = dialog.get_by_label("Values (comma separated)")
    assert values.get_attribute("aria-invalid") == "true"  # a select needs values: fields.0.values
    assert dialog.get_by_text("(status 400)").count() == 1
    assert [p for p in problems.seen if "400" in p]  # the refusal really happened


def test_api_page_lists_operations_and_runs_graphql(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("link", name="API", exact=True).click()
    page.get_by_label("Search operations").fill("auth-with-password")
    operation = page.locator(".ops summary").filter(has_text="/api/collections/_superusers/auth-with-password")
    operation.first.wait_for()
    assert page.locator(".ops li").count() == 3  # the generic route and one per auth collection
    page.get_by_role("link", name="GraphQL").click()
    page.get_by_role("button", name="Run").click()
    result = page.get_by_label("Result")
    result.wait_for()
    assert '"queryType"' in (result.text_content() or "")


def test_password_reset_link_from_the_email(page: Any) -> None:
    served, sink = serve_with_superuser(), MailSink().start()
    try:
        with superuser_client(served.url) as su:
            meta = {"appURL": served.url, "senderAddress": "robot@example.com"}
            assert su.patch("/api/settings", json={"smtp": sink.smtp_settings(), "meta": meta}).status_code == 200
            body = {"email": "reader@example.com", "password": "old-password-1", "passwordConfirm": "old-password-1"}
            assert su.post("/api/collections/users/records", json=body).status_code == 200
        asked = httpx.post(f"{served.url}/api/collections/users/request-password-reset", json={"email": "reader@example.com"})
        assert asked.status_code == 204
        for _ in range(100):
            if sink.to("reader@example.com"):
                break
            time.sleep(0.1)
        link = re.search(r'href="([^"]+/_/#/auth/confirm-password-reset/[^"]+)"', sink.to("reader@example.com")[-1].html)
        assert link, "the reset e-mail links to the dashboard"
        page.goto(link.group(1))
        page.get_by_role("heading", name="Choose a new password").wait_for()
        page.get_by_label("New password", exact=True).fill("new-password-1")
        page.get_by_label("New password again").fill("new-password-1")
        page.get_by_role("button", name="Set the new password").click()
        page.get_by_role("status").get_by_text("Your password was changed.").wait_for()
        signed = httpx.post(f"{served.url}/api/collections/users/auth-with-password",
                            json={"identity": "reader@example.com", "password": "new-password-1"})  # fmt: skip
        assert signed.status_code == 200
    finally:
        sink.stop()
        served.stop()
