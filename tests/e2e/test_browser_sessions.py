"""Cookie sessions in a real Chromium (Playwright driving Debian's /usr/bin/chromium).

Roost listens on 127.0.0.1:A. The app page comes from 127.0.0.1:B (same site, another origin,
listed in ROOST_SESSION_ORIGINS); an attacker page from 127.0.0.1:C (same site, untrusted, so
the browser attaches the cookie and the Origin check must refuse) and from localhost:C (another
site, where SameSite=Lax keeps the cookie home).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import launch, skip_unavailable
from .servers import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PAGES = Path(__file__).resolve().parent / "browser"
PASSWORD = "password123"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class PageServer:
    """Serves tests/e2e/browser/ on a free loopback port."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(PAGES)))
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[PageServer, PageServer]]:
    app, attacker = PageServer(), PageServer()
    yield app, attacker
    app.stop()
    attacker.stop()


@pytest.fixture(scope="module")
def roost(sites: tuple[PageServer, PageServer]) -> Iterator[LiveServer]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROOST_SESSION_ORIGINS", f"http://127.0.0.1:{sites[0].port}")
        live = launch("roost")
    with live.client(headers={"Authorization": live.superuser_token()}) as su:
        assert su.patch("/api/collections/users", json={"cookieSessions": {"enabled": True}}).status_code == 200
        for name, rule in (("notes", "@request.auth.id != ''"), ("guestbook", "")):
            res = su.post("/api/collections", json={"name": name, "type": "base", "createRule": rule,
                                                    "fields": [{"name": "title", "type": "text"}]})  # fmt: skip
            assert res.status_code == 200, res.text
        for email in ("alice@example.com", "bob@example.com"):
            body = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
            assert su.post("/api/collections/users/records", json=body).status_code == 200
    yield live
    live.stop()


def titles(live: LiveServer, collection: str) -> list[str]:
    with live.client(headers={"Authorization": live.superuser_token()}) as su:
        items = su.get(f"/api/collections/{collection}/records", params={"perPage": 100}).json()["items"]
    return sorted(item["title"] for item in items)


def open_page(chromium: Any, url: str, context: Any = None) -> Any:
    page = (context or chromium.new_context()).new_page()
    page.goto(url)
    return page


def app_page(chromium: Any, sites: tuple[PageServer, PageServer], live: LiveServer, email: str) -> Any:
    page = open_page(chromium, f"http://127.0.0.1:{sites[0].port}/app.html?api={live.base_url}")
    res = page.evaluate("([e, p]) => login(e, p)", [email, PASSWORD])
    assert res["status"] == 200, res
    return page


def test_login_and_csrf_protected_write(chromium: Any, sites: tuple[PageServer, PageServer], roost: LiveServer) -> None:
    page = app_page(chromium, sites, roost, "alice@example.com")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["__Host-roost_session"]
    assert (session["httpOnly"], session["secure"], session["sameSite"], session["domain"]) == (True, True, "Lax", "127.0.0.1")
    assert "__Host-roost_session" not in page.evaluate("document.cookie")
    assert page.evaluate("csrf") and "token" not in page.evaluate("login('alice@example.com', 'password123')")["body"]
    assert page.evaluate("write('notes', 'from the app')")["status"] == 200
    page.evaluate("forget()")
    refused = page.evaluate("write('notes', 'without csrf')")
    assert refused == {"status": 403, "body": {"data": {}, "message": "Missing or invalid CSRF token.", "status": 403}}
    # a reloaded page reads its CSRF token back with the cookie
    page.reload()
    assert page.evaluate("current()")["body"]["record"]["email"] == "alice@example.com"
    assert page.evaluate("write('notes', 'after reload')")["status"] == 200
    assert {"after reload", "from the app"} <= set(titles(roost, "notes"))
    assert "without csrf" not in titles(roost, "notes")


def test_forged_writes_are_refused(chromium: Any, sites: tuple[PageServer, PageServer], roost: LiveServer) -> None:
    victim = app_page(chromium, sites, roost, "bob@example.com")
    port = sites[1].port
    for host in ("127.0.0.1", "localhost"):
        attacker = open_page(chromium, f"http://{host}:{port}/attacker.html?api={roost.base_url}", victim.context)
        assert attacker.evaluate(f"simpleRequest('notes', 'simple {host}')") == "sent"
        assert attacker.evaluate(f"formPost('notes', 'form {host}')") == "submitted"
        assert attacker.evaluate(f"corsRequest('notes', 'cors {host}')").startswith("blocked")
        assert attacker.evaluate(f"simpleRequest('guestbook', 'guest {host}')") == "sent"
    assert "simple" not in " ".join(titles(roost, "notes")) and "form" not in " ".join(titles(roost, "notes"))
    # the public guestbook shows why each was refused: from the other site the cookie stayed home
    # (an anonymous post, accepted), from the same site it came along and the Origin check said no
    assert titles(roost, "guestbook") == ["guest localhost"]
    assert victim.evaluate("write('notes', 'bob still fine')")["status"] == 200


def test_logout_and_revocation(chromium: Any, sites: tuple[PageServer, PageServer], roost: LiveServer) -> None:
    laptop = app_page(chromium, sites, roost, "alice@example.com")
    phone = app_page(chromium, sites, roost, "alice@example.com")
    listed = phone.evaluate("sessions()")["body"]
    laptop_id = next(s["id"] for s in listed if not s["current"])
    assert len(listed) >= 2 and all(s["userAgent"] for s in listed)
    assert phone.evaluate(f"revoke('{laptop_id}')")["status"] == 204
    assert laptop.evaluate("current()")["status"] == 401
    assert laptop.evaluate("write('notes', 'revoked laptop')")["status"] == 400
    bob = app_page(chromium, sites, roost, "bob@example.com")
    with httpx.Client(base_url=roost.base_url, headers={"Authorization": roost.superuser_token()}) as su:
        bob_id = su.get("/api/collections/users/records", params={"filter": "email='bob@example.com'"}).json()["items"][0]["id"]
        assert su.delete("/api/sessions", params={"collection": "users", "record": bob_id}).status_code == 204
    assert bob.evaluate("current()")["status"] == 401
    assert phone.evaluate("logout()")["status"] == 204
    assert "__Host-roost_session" not in {c["name"] for c in phone.context.cookies()}
    assert phone.evaluate("current()")["status"] == 401
    assert "revoked laptop" not in titles(roost, "notes")
