"""The bundled GraphiQL page in a real Chromium (Playwright driving Debian's /usr/bin/chromium):
a superuser signs in, runs a query and sees the answer, with no console error, no failed request
and nothing fetched from outside Roost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the chromium fixture skips (or fails when services are required)
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]

from .conftest import launch
from .servers import LiveServer
from .test_browser_sessions import chromium

__all__ = ["chromium"]  # fixture
QUERY = '{ notesList(sort: "title") { totalItems items { title } } }'


@pytest.fixture(scope="module")
def roost() -> Iterator[LiveServer]:
    live = launch("roost")
    with live.client(headers={"Authorization": live.superuser_token()}) as su:
        res = su.post("/api/collections", json={"name": "notes", "fields": [{"name": "title", "type": "text"}]})
        assert res.status_code == 200, res.text
        for title in ("from graphiql", "second note"):
            assert su.post("/api/collections/notes/records", json={"title": title}).status_code == 200
        body = {"email": "user@example.com", "password": "password123", "passwordConfirm": "password123"}
        assert su.post("/api/collections/users/records", json=body).status_code == 200
    yield live
    live.stop()


def watched(chromium: Any, live: LiveServer) -> tuple[Any, list[str]]:
    """A fresh page that records every console error, failed request, error answer and foreign URL."""
    page = chromium.new_context().new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: None if r.url.startswith((live.base_url, "data:")) else problems.append(f"foreign: {r.url}"))
    return page, problems


#: functions, not expressions: Playwright evaluates a bare expression with eval(), which the
#: page's Content-Security-Policy refuses
_TEXT = "s => document.querySelector(s + ' .CodeMirror').CodeMirror.getValue()"
_SET = "q => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)"
_SHOWS = "t => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue().includes(t)"


def editor_text(page: Any, selector: str) -> str:
    return str(page.evaluate(_TEXT, selector))


def test_a_superuser_signs_in_and_runs_a_query(chromium: Any, roost: LiveServer) -> None:
    page, problems = watched(chromium, roost)
    page.goto(roost.base_url + "/api/graphql")
    page.fill("#email", roost.superuser_email)
    page.fill("#password", roost.superuser_password)
    page.click("#login button[type=submit]")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    page.evaluate(_SET, QUERY)
    page.click(".graphiql-execute-button")
    page.wait_for_function(_SHOWS, arg="from graphiql")
    answer = editor_text(page, ".result-window")
    assert '"totalItems": 2' in answer and "second note" in answer
    # the token stays for the next visit, which opens the editor straight away
    page.reload()
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    assert page.is_hidden("#login")
    # a subscription runs over graphql-transport-ws and shows the next event
    subscription = "subscription LiveNotes { notes { action record { title } } }"
    page.evaluate(_SET, subscription)
    # GraphiQL re-parses the editor a moment after a change, and only a parsed subscription goes
    # over the socket: wait until the tab it stores names the operation
    page.wait_for_function("() => (localStorage.getItem('graphiql:tabState') || '').includes('\"operationName\":\"LiveNotes\"')")
    page.click(".graphiql-execute-button")
    # the page shows no sign of the server having registered the subscription, so write until
    # an event arrives (the first write may come before it listens)
    with roost.client(headers={"Authorization": roost.superuser_token()}) as su:
        for attempt in range(20):
            assert su.post("/api/collections/notes/records", json={"title": f"live note {attempt}"}).status_code == 200
            try:
                page.wait_for_function(_SHOWS, arg="live note", timeout=1000)
                break
            except PlaywrightTimeout:
                continue
        else:
            raise AssertionError(f"no event shown: {editor_text(page, '.result-window')!r} {problems}")
    assert '"action": "create"' in editor_text(page, ".result-window") and "live note" in editor_text(page, ".result-window")
    assert problems == []


def test_a_token_that_is_not_a_superusers_is_refused(chromium: Any, roost: LiveServer) -> None:
    with roost.client() as http:
        body = {"identity": "user@example.com", "password": "password123"}
        token = http.post("/api/collections/users/auth-with-password", json=body).json()["token"]
    page, _ = watched(chromium, roost)
    page.goto(roost.base_url + "/api/graphql")
    page.fill("#token", token)
    page.click("#login button[type=submit]")
    page.wait_for_function("() => document.getElementById('error').textContent !== ''")
    assert page.text_content("#error") == "That is not a valid superuser token."
    assert page.is_hidden("#graphiql")
