"""The dashboard's pages for the data-API additions in Chromium against ``roost serve``: API keys
(create with the key shown once, use it, revoke), checked through the public API and by the key's
effect on requests.

The fixtures are the ones of ``test_dashboard_browser``: each test fails on a console error, a
failed request or an HTTP error answer it does not provoke on purpose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from . import test_dashboard_browser as dashboard
from .test_dashboard_browser import Problems, Served, sign_in, superuser_client, wait_until

chromium = dashboard.chromium
page = dashboard.page
problems = dashboard.problems
roost = dashboard.roost


def test_api_keys_create_show_once_copy_use_and_revoke(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["POST http://127.0.0.1", "status of 400"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, roost.url)
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("heading", name="API keys").wait_for()
    page.get_by_text("No API keys yet.").wait_for()

    # refused: no name, a malformed scope, a bad IP and a past expiry, each beside its input
    page.get_by_role("button", name="New API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Scopes").fill("posts:frobnicate")
    dialog.get_by_label("Expires (UTC, optional)").fill("2001-01-01T00:00")
    dialog.get_by_label("Allowed IPs (optional)").fill("not-an-ip")
    dialog.get_by_role("button", name="Create key").click()
    name = dialog.get_by_label("Name")
    name.and_(page.locator("[aria-invalid=true]")).wait_for()
    assert page.locator(f"#{name.get_attribute('aria-describedby')}").text_content() == "Cannot be blank."
    for label in ("Scopes", "Expires (UTC, optional)", "Allowed IPs (optional)"):
        assert dialog.get_by_label(label).get_attribute("aria-invalid") == "true", label
    wait_until(page, "document.activeElement && document.activeElement.getAttribute('aria-invalid') === 'true'")

    dialog.get_by_label("Name").fill("nightly export")
    dialog.get_by_label("Scopes").fill("users:list, users:view")
    dialog.get_by_label("Expires (UTC, optional)").fill("2099-06-30T12:30")
    dialog.get_by_label("Allowed IPs (optional)").fill("127.0.0.1 10.0.0.0/8")
    dialog.get_by_role("button", name="Create key").click()
    dialog.wait_for(state="detached")
    shown = page.get_by_label("New API key")
    key = shown.input_value()
    assert re.fullmatch(r"rk_[A-Za-z0-9_-]{43}", key)
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key

    with superuser_client(roost.url) as su:
        [saved] = su.get("/api/keys").json()
    assert saved["name"] == "nightly export" and saved["scopes"] == ["users:list", "users:view"]
    assert saved["allowedIPs"] == ["127.0.0.1", "10.0.0.0/8"] and saved["expires"] == "2099-06-30 12:30:00.000Z"
    row = page.locator("table.grid tbody tr", has_text="nightly export")
    assert saved["prefix"] in row.text_content() and key not in row.text_content()

    # the key works for its scopes, not beyond them
    listed = httpx.get(f"{roost.url}/api/collections/users/records", headers={"X-API-Key": key})
    assert listed.status_code == 200, listed.text
    created = httpx.post(f"{roost.url}/api/collections/users/records", headers={"X-API-Key": key},
                         json={"email": "k@example.com", "password": "key-pass-12", "passwordConfirm": "key-pass-12"})  # fmt: skip
    assert created.status_code == 403

    # shown once: after "Done" (or a reload) the key is gone from the page
    page.get_by_role("button", name="Done").click()
    assert page.get_by_label("New API key").count() == 0
    page.reload()
    row.wait_for()
    assert key not in page.content()

    # revoke asks first; "Keep" keeps it
    page.get_by_role("button", name="Revoke API key nightly export").click()
    page.get_by_role("button", name="Keep").click()
    assert httpx.get(f"{roost.url}/api/collections/users/records", headers={"X-API-Key": key}).status_code == 200
    page.get_by_role("button", name="Revoke API key nightly export").click()
    page.get_by_role("button", name="Really revoke nightly export").click()
    page.get_by_text("No API keys yet.").wait_for()
    assert httpx.get(f"{roost.url}/api/collections/users/records", headers={"X-API-Key": key}).status_code == 401
    with superuser_client(roost.url) as su:
        assert su.get("/api/keys").json() == []


def test_field_rules_in_the_collection_editor(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["PATCH http://127.0.0.1", "status of 400"]
    with superuser_client(roost.url) as su:
        made = su.post("/api/collections", json={"name": "staff", "type": "base", "listRule": "", "viewRule": "",
                       "fields": [{"name": "title", "type": "text"}, {"name": "salary", "type": "number"}]})  # fmt: skip
        assert made.status_code == 200, made.text
        assert su.post("/api/collections/staff/records", json={"title": "Ann", "salary": 5}).status_code == 200
    sign_in(page, roost.url)
    page.get_by_role("button", name="Edit collection staff").click()
    dialog = page.get_by_role("dialog")

    # a rule that does not compile is refused beside its input, and nothing is saved
    write = dialog.get_by_label("Write rule of title")
    write.fill("nosuchfield = 1")
    dialog.get_by_role("button", name="Save changes").click()
    write.and_(page.locator("[aria-invalid=true]")).wait_for()
    assert page.locator(f"#{write.get_attribute('aria-describedby')}").text_content()
    write.fill("")

    read = dialog.get_by_label("Read rule of salary")
    read.press_sequentially("@request.auth.i")  # the rule input suggests as it is typed
    dialog.get_by_role("option", name="@request.auth.id", exact=True).click()
    read.press_sequentially(' != ""')
    dialog.get_by_label("Write rule of salary").fill('@request.auth.collectionName = "_superusers"')
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")

    with superuser_client(roost.url) as su:
        fields = {f["name"]: f for f in su.get("/api/collections/staff").json()["fields"]}
    assert fields["salary"]["readRule"] == '@request.auth.id != ""'
    assert fields["salary"]["writeRule"] == '@request.auth.collectionName = "_superusers"'
    assert "readRule" not in fields["title"] and "writeRule" not in fields["title"]  # empty: no restriction, not sent
    [guest_view] = httpx.get(f"{roost.url}/api/collections/staff/records").json()["items"]
    assert guest_view["title"] == "Ann" and "salary" not in guest_view  # the read rule is in force

    # emptying a rule removes it
    page.get_by_role("button", name="Edit collection staff").click()
    dialog.get_by_label("Read rule of salary").fill("")
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    with superuser_client(roost.url) as su:
        fields = {f["name"]: f for f in su.get("/api/collections/staff").json()["fields"]}
    assert "readRule" not in fields["salary"] and fields["salary"]["writeRule"]
    assert httpx.get(f"{roost.url}/api/collections/staff/records").json()["items"][0]["salary"] == 5


def test_search_option_and_the_grid_search_box(page: Any, problems: Problems, roost: Served) -> None:
    problems.allowed += ["PATCH http://127.0.0.1", "status of 400"]
    with superuser_client(roost.url) as su:
        made = su.post("/api/collections", json={"name": "notes", "type": "base", "fields": [
            {"name": "title", "type": "text"}, {"name": "body", "type": "editor"}, {"name": "rank", "type": "number"}]})  # fmt: skip
        assert made.status_code == 200, made.text
        for title, body in (("Foxes", "the quick brown fox"), ("Dogs", "a lazy dog"), ("Quiet", "nothing quick here")):
            assert su.post("/api/collections/notes/records", json={"title": title, "body": body}).status_code == 200
    sign_in(page, roost.url)
    page.get_by_role("button", name="Edit collection notes").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_label("Search rank").count() == 0  # only text fields are offered

    # a field hidden in the same edit is refused beside its box, and nothing is saved
    dialog.get_by_label("Search title").check()
    dialog.get_by_label("Search body").check()
    dialog.locator('[aria-label="Field 2"]').get_by_label("Hidden").check()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.locator(".invalid", has=page.get_by_label("Search body")).get_by_role("alert").wait_for()
    dialog.locator('[aria-label="Field 2"]').get_by_label("Hidden").uncheck()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    with superuser_client(roost.url) as su:
        assert su.get("/api/collections/notes").json()["search"] == {"fields": ["title", "body"]}

    page.get_by_role("link", name="notes", exact=True).click()
    rows = page.locator("table.grid tbody tr")
    rows.filter(has_text="Dogs").wait_for()
    with page.expect_request(lambda req: "search=qui+fox" in req.url or "search=qui%20fox" in req.url):
        page.get_by_label("Search", exact=True).fill("qui fox")
        page.get_by_role("button", name="Apply").click()
    rows.filter(has_text="Dogs").wait_for(state="detached")
    assert rows.count() == 1 and "Foxes" in rows.first.text_content()
    page.get_by_label("Search", exact=True).fill("quick")  # with a filter too
    page.get_by_label("Filter").fill('title != "Foxes"')
    page.get_by_role("button", name="Apply").click()
    rows.filter(has_text="Foxes").wait_for(state="detached")
    assert rows.count() == 1 and "Quiet" in rows.first.text_content()

    # unticking every field removes the option
    page.get_by_role("link", name="Collections", exact=True).first.click()
    page.get_by_role("button", name="Edit collection notes").click()
    dialog.get_by_label("Search title").uncheck()
    dialog.get_by_label("Search body").uncheck()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    with superuser_client(roost.url) as su:
        assert "search" not in su.get("/api/collections/notes").json()


def test_export_with_the_grid_filter_and_import_with_its_report(page: Any, problems: Problems, roost: Served, tmp_path: Path) -> None:
    problems.allowed += ["POST http://127.0.0.1", "status of 400"]
    with superuser_client(roost.url) as su:
        made = su.post("/api/collections", json={"name": "books", "type": "base", "listRule": None, "fields": [
            {"name": "title", "type": "text", "required": True}, {"name": "pages", "type": "number"}]})  # fmt: skip
        assert made.status_code == 200, made.text
        for title, pages in (("Alpha", 10), ("Beta", 200), ("Gamma", 300)):
            assert su.post("/api/collections/books/records", json={"title": title, "pages": pages}).status_code == 200
    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/collections/books")
    rows = page.locator("table.grid tbody tr")
    rows.filter(has_text="Alpha").wait_for()
    page.get_by_label("Filter").fill("pages > 100")
    page.get_by_role("button", name="Apply").click()
    rows.filter(has_text="Alpha").wait_for(state="detached")

    # the list rule is superusers-only, so the download only works with the token in the header
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == "books.csv"
    csv_text = Path(download.path()).read_text(encoding="utf-8")
    assert "Beta" in csv_text and "Gamma" in csv_text and "Alpha" not in csv_text
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export JSON lines").click()
    lines = [json.loads(line) for line in Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()]
    assert sorted(r["title"] for r in lines) == ["Beta", "Gamma"] and download_info.value.suggested_filename == "books.jsonl"

    # import: a failing row stops the chunk (nothing written) and the report names it
    upload = tmp_path / "more.csv"
    upload.write_text("title,pages\r\nDelta,40\r\n,50\r\nEpsilon,60\r\n", encoding="utf-8")
    page.get_by_label("Import file (.csv or .jsonl)").set_input_files(str(upload))
    page.get_by_role("button", name="Import", exact=True).click()
    report = page.get_by_role("status", name="Import report")
    report.wait_for()
    assert "0 of 3 rows committed" in report.text_content()
    assert "row 1" in report.text_content()  # where to resume
    failed = report.locator("tbody tr")
    assert failed.count() == 1 and failed.first.locator("td").first.text_content() == "2"
    assert "title" in failed.first.text_content() and "Cannot be blank." in failed.first.text_content()

    # skipping failing rows commits the others; the grid reloads with them
    page.get_by_label("Skip failing rows").check()
    page.get_by_role("button", name="Import", exact=True).click()
    report.filter(has_text="2 of 3 rows committed").wait_for()
    assert report.locator("tbody tr").count() == 1
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Apply").click()
    rows.filter(has_text="Epsilon").wait_for()
    with superuser_client(roost.url) as su:
        titles = sorted(r["title"] for r in su.get("/api/collections/books/records").json()["items"])
    assert titles == ["Alpha", "Beta", "Delta", "Epsilon", "Gamma"]

    # JSON lines by extension
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text('{"title": "Zeta", "pages": 1}\n', encoding="utf-8")
    page.get_by_label("Import file (.csv or .jsonl)").set_input_files(str(jsonl))
    page.get_by_role("button", name="Import", exact=True).click()
    report.filter(has_text="1 of 1 rows committed").wait_for()
    rows.filter(has_text="Zeta").wait_for()
