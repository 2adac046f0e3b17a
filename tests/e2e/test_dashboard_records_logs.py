"""The dashboard's collections, records, request logs and instance pages in Debian's Chromium
against a fresh ``roost serve``: an auth and a base collection built in the editor with the
rule suggestions driven from the keyboard, a record form for every field type, the grid's filter
suggestions, thumbnails and related-record labels, the log filters and chart, and the instance
page. Like every dashboard test, each fails on a console error or a failed request.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from . import test_dashboard_browser as dashboard
from .test_dashboard_browser import Problems, Served, sign_in, superuser_client, wait_until

# the browser, page, problem watcher and fresh server of the dashboard's other tests
chromium, page, problems, roost = (
    dashboard.chromium,
    dashboard.page,
    dashboard.problems,
    dashboard.roost,
)

LOG_ROW = "table.grid tbody tr"


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def test_auth_and_base_collection_with_relation_select_file_and_rules(
    page: Any, roost: Served
) -> None:
    sign_in(page, roost.url)
    page.get_by_role("button", name="New collection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("members")
    dialog.get_by_label("Type", exact=True).select_option("auth")
    dialog.locator(
        ".fieldrow.system", has_text="tokenKey"
    ).wait_for()  # the auth collection's own fields
    dialog.get_by_label("New field type").select_option("text")
    dialog.get_by_role("button", name="Add field").click()
    dialog.get_by_label("Field 1 name").fill("nickname")
    dialog.get_by_label("Presentable").last.check()
    list_rule = dialog.locator(".rule").first
    list_rule.get_by_label("Superusers only").uncheck()
    rule = list_rule.get_by_label("List/Search rule")
    rule.press_sequentially("@request.auth.i")
    list_rule.get_by_role("option", name="@request.auth.id").wait_for()
    rule.press("Enter")  # the keyboard picks the highlighted suggestion
    rule.press_sequentially(' != ""')
    assert rule.input_value() == '@request.auth.id != ""'
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="members").wait_for()

    page.get_by_role("button", name="New collection").click()
    dialog.get_by_label("Name", exact=True).fill("posts")
    for index, (name, kind) in enumerate(
        (("title", "text"), ("kind", "select"), ("photo", "file"), ("writer", "relation"))
    ):
        dialog.get_by_label("New field type").select_option(kind)
        dialog.get_by_role("button", name="Add field").click()
        dialog.get_by_label(f"Field {index + 1} name").fill(name)
    dialog.get_by_label("Values (comma separated)").fill("news, essay")
    dialog.get_by_label("Related collection").select_option(label="members")
    list_rule = dialog.locator(".rule").first
    list_rule.get_by_label("Superusers only").uncheck()
    rule = list_rule.get_by_label("List/Search rule")
    rule.press_sequentially("writer.ni")  # one level into the related collection
    rule.press("ArrowDown")
    rule.press("ArrowUp")
    list_rule.get_by_role("option", name="writer.nickname", selected=True).wait_for()
    rule.press("Enter")
    rule.press_sequentially(' != "" && kind = "news"')
    assert rule.input_value() == 'writer.nickname != "" && kind = "news"'
    create_rule = dialog.locator(".rule").nth(2)
    create_rule.get_by_label("Superusers only").uncheck()
    create_rule.get_by_label("Create rule").fill('@request.auth.collectionName = "members"')
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="posts").wait_for()
    page.get_by_role("link", name="posts").wait_for()

    with superuser_client(roost.url) as su:
        members, posts = (
            su.get("/api/collections/members").json(),
            su.get("/api/collections/posts").json(),
        )
    assert members["type"] == "auth" and members["listRule"] == '@request.auth.id != ""'
    assert {f["name"]: f["presentable"] for f in members["fields"]}["nickname"] is True
    fields = {f["name"]: f for f in posts["fields"]}
    assert fields["kind"]["values"] == ["news", "essay"] and fields["photo"]["type"] == "file"
    assert fields["writer"]["collectionId"] == members["id"]
    assert posts["listRule"] == 'writer.nickname != "" && kind = "news"'
    assert posts["createRule"] == '@request.auth.collectionName = "members"'

    # an auth record made in the form signs in with the password given there
    page.get_by_role("link", name="members").click()
    page.get_by_role("button", name="New record").click()
    dialog.get_by_label("email *").fill("kim@example.com")
    dialog.get_by_label("password *").fill("kim-password-1")
    dialog.get_by_label("Password again").fill("kim-password-1")
    dialog.get_by_label("nickname").fill("Kim")
    dialog.get_by_role("button", name="Create").click()
    page.locator("table.grid").get_by_text("kim@example.com").wait_for()
    signed = httpx.post(
        f"{roost.url}/api/collections/members/auth-with-password",
        json={"identity": "kim@example.com", "password": "kim-password-1"},
    )
    assert signed.status_code == 200, signed.text


def test_record_form_for_every_field_type(
    page: Any, problems: Problems, roost: Served, tmp_path: Path
) -> None:
    problems.allowed += ["HTTP 400: POST", "status of 400"]  # the empty required title, on purpose
    with superuser_client(roost.url) as su:
        user = su.post("/api/collections/users/records", json={"email": "cook@example.com", "name": "Cook",
                       "password": "cook-pass-1", "passwordConfirm": "cook-pass-1"}).json()  # fmt: skip
        created = su.post("/api/collections", json={"name": "kitchen", "type": "base", "fields": [
            {"name": "title", "type": "text", "required": True},
            {"name": "body", "type": "editor"},
            {"name": "rating", "type": "number"},
            {"name": "done", "type": "bool"},
            {"name": "contact", "type": "email"},
            {"name": "site", "type": "url"},
            {"name": "due", "type": "date"},
            {"name": "tags", "type": "select", "values": ["hot", "cold", "raw"], "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "docs", "type": "file", "maxSelect": 3},
            {"name": "people", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5},
            {"name": "where", "type": "geoPoint"},
            {"name": "created", "type": "autodate", "onCreate": True},
        ]})  # fmt: skip
        assert created.status_code == 200, created.text
    files = [tmp_path / name for name in ("alpha.txt", "bravo.txt", "charlie.txt")]
    for file in files:
        file.write_text(f"contents of {file.name}")

    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/collections/kitchen")
    page.get_by_role("button", name="New record").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Create").click()  # no title: the API's error lands beside it
    title = dialog.get_by_label("title *")
    message = dialog.locator(".field.invalid .error").first
    message.wait_for()
    assert title.get_attribute("aria-invalid") == "true" and message.text_content()

    title.fill("soup")
    dialog.get_by_label("body", exact=True).fill("<p>stir</p>")
    dialog.get_by_label("rating", exact=True).fill("4.5")
    dialog.get_by_label("done", exact=True).check()
    dialog.get_by_label("contact", exact=True).fill("chef@example.com")
    dialog.get_by_label("site", exact=True).fill("https://example.com/soup")
    dialog.get_by_label("due", exact=True).fill("2030-01-31T12:00:05")
    dialog.get_by_label("tags", exact=True).select_option(["hot", "raw"])
    meta = dialog.get_by_label("meta", exact=True)
    meta.fill("{serves: 4")
    dialog.get_by_role("button", name="Create").click()  # caught in the page, before any request
    dialog.get_by_text(re.compile("^Not valid JSON")).wait_for()
    assert meta.get_attribute("aria-invalid") == "true"
    meta.fill('{"serves": 4}')
    dialog.get_by_label("docs", exact=True).set_input_files([str(files[0]), str(files[1])])
    dialog.get_by_label("people", exact=True).fill("Cook")
    dialog.get_by_role("button", name=re.compile("^Cook")).click()
    dialog.get_by_label("where longitude").fill("-9.14")
    dialog.get_by_label("where latitude").fill("38.72")
    dialog.get_by_text("set on save").wait_for()  # autodate is shown, not editable
    dialog.get_by_role("button", name="Create").click()
    page.locator("table.grid").get_by_text("soup").wait_for()

    with superuser_client(roost.url) as su:
        record = su.get("/api/collections/kitchen/records").json()["items"][0]
    assert (record["title"], record["body"], record["rating"], record["done"]) == (
        "soup",
        "<p>stir</p>",
        4.5,
        True,
    )
    assert (record["contact"], record["site"]) == ("chef@example.com", "https://example.com/soup")
    assert record["due"] == "2030-01-31 12:00:05.000Z" and record["tags"] == ["hot", "raw"]
    assert record["meta"] == {"serves": 4} and record["people"] == [user["id"]]
    assert record["where"] == {"lon": -9.14, "lat": 38.72} and record["created"]
    assert [name[:5] for name in record["docs"]] == ["alpha", "bravo"]

    # edit: drop the first file, add a third, untick the bool
    page.get_by_role("button", name=f"Edit record {record['id']}").click()
    dialog.get_by_role("button", name="Remove", exact=True).first.click()
    dialog.get_by_label("docs", exact=True).set_input_files([str(files[2])])
    dialog.get_by_label("done", exact=True).uncheck()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.wait_for(state="detached")
    with superuser_client(roost.url) as su:
        edited = su.get(f"/api/collections/kitchen/records/{record['id']}").json()
    assert [name[:5] for name in edited["docs"]] == ["bravo", "charl"] and edited["done"] is False


def test_grid_filter_suggestions_thumbnails_and_related_labels(page: Any, roost: Served) -> None:
    with superuser_client(roost.url) as su:
        places = su.post("/api/collections", json={"name": "places", "type": "base", "fields": [
            {"name": "code", "type": "text"}, {"name": "city", "type": "text", "presentable": True}]}).json()  # fmt: skip
        su.post("/api/collections", json={"name": "photos", "type": "base", "fields": [
            {"name": "caption", "type": "text"}, {"name": "pic", "type": "file", "maxSelect": 1},
            {"name": "place", "type": "relation", "collectionId": places["id"], "maxSelect": 1}]}).raise_for_status()  # fmt: skip
        lisbon = su.post(
            "/api/collections/places/records", json={"code": "LIS", "city": "Lisbon"}
        ).json()
        for caption, color in (("first", (200, 40, 40)), ("second", (40, 40, 200))):
            made = su.post("/api/collections/photos/records", data={"caption": caption, "place": lisbon["id"]},
                           files={"pic": (f"{caption}.png", png(color), "image/png")})  # fmt: skip
            assert made.status_code == 200, made.text

    sign_in(page, roost.url)
    page.goto(f"{roost.url}/_/collections/photos")
    grid = page.locator("table.grid")
    grid.locator(
        ".chip", has_text="Lisbon"
    ).first.wait_for()  # the presentable field, not the id or the code
    thumb = grid.locator("img.thumb").first
    thumb.wait_for()
    assert "?thumb=100x100" in (thumb.get_attribute("src") or "")
    wait_until(page, "[...document.querySelectorAll('img.thumb')].every((img) => img.complete && img.naturalWidth > 0)")

    search = page.get_by_role("combobox", name="Filter")
    search.press_sequentially("cap")
    page.get_by_role("option", name="caption").wait_for()
    search.press("Enter")
    search.press_sequentially(' = "second" && place.ci')
    page.get_by_role("option", name="place.city").wait_for()
    search.press("Enter")
    search.press_sequentially(' = "Lisbon"')
    assert search.input_value() == 'caption = "second" && place.city = "Lisbon"'
    search.press("Enter")  # no suggestion open: submits the filter
    page.get_by_text("Page 1 of 1 · 1 records").wait_for()
    assert grid.get_by_text("first", exact=True).count() == 0


def test_log_filters_chart_and_details(page: Any, roost: Served) -> None:
    for _ in range(2):
        assert httpx.get(f"{roost.url}/api/collections/nowhere/records").status_code == 404
    sign_in(page, roost.url)
    page.get_by_role("link", name="Logs").click()
    rows = page.locator(LOG_ROW)
    rows.first.wait_for()
    page.get_by_role("img", name=re.compile(r"^\d+ requests over \d+ hours")).wait_for()

    page.get_by_label("Status").select_option(label="4xx")
    page.get_by_label("URL contains").fill("nowhere")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Page 1 of 1 · 2 entries").wait_for()
    assert [rows.nth(i).locator("td").nth(2).text_content() for i in range(2)] == ["404", "404"]
    page.get_by_role(
        "img", name=re.compile(r"^2 requests over")
    ).wait_for()  # the chart counts the same filter

    page.get_by_label("Method").select_option("POST")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("No logs found.").wait_for()
    page.get_by_label("Method").select_option("GET")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    page.get_by_label("From").fill(tomorrow)
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("No logs found.").wait_for()
    page.get_by_label("From").fill("")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Page 1 of 1 · 2 entries").wait_for()

    rows.first.get_by_role("button", name=re.compile("Details")).click()
    details = page.get_by_role("dialog")
    details.locator("dd", has_text="/api/collections/nowhere/records").wait_for()
    assert details.locator("dt", has_text="Status").count() == 1
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Reset").click()
    page.get_by_label("URL contains").wait_for()
    assert page.get_by_label("URL contains").input_value() == ""


def test_instance_page_shows_health_and_metrics(page: Any, roost: Served) -> None:
    sign_in(page, roost.url)
    page.get_by_role("link", name="Instance").click()
    health = page.get_by_role("region", name="Health")
    health.get_by_text("API is healthy.").wait_for()
    http = page.get_by_role("region", name="HTTP")
    http.get_by_text("Requests answered").wait_for()
    answered = http.locator("dd").first.text_content() or "0"
    assert int(answered.replace(",", "")) > 0
    database = page.get_by_role("region", name="Database")
    database.get_by_text("SQL statements").wait_for()
    database.get_by_text("SQLite (embedded)").wait_for()  # from roost_info
    page.get_by_role("region", name="Response cache").get_by_text("Hits").wait_for()
    assert page.get_by_role("table", name="Processes").locator("tbody tr").count() >= 1
