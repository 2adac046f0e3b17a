"""Screenshots of every dashboard page at 1280x800 and 390x844 in the light theme, plus a few dark.

    .venv/bin/python docs/dashboard/screenshots.py [OUT_DIR]     # default ./dashboard-screenshots

Starts a fresh ``roost serve`` (no superuser), shoots the first-run page from the link it prints,
creates the first superuser through that link, seeds a little data over the public API, then
drives Debian's Chromium. The pages are found the way a user finds them: the links of the main
navigation and of the settings tabs, so a new page is shot without editing this list.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
EMAIL, PASSWORD = "admin@example.com", "admin-password-1"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
DARK = {("collections-posts", "desktop"), ("logs", "desktop"), ("record-form", "phone"), ("filter-suggestions", "desktop")}


def serve(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = data / "serve.out"
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "roost", "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data / "pb")],
                                   cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(300):
        found = re.search(r"/_/#/install/([\w.-]+)", out.read_text(errors="replace"))
        if found:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return process, f"http://127.0.0.1:{port}", found.group(1)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(out.read_text(errors="replace"))


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), color).save(buffer, "PNG")
    return buffer.getvalue()


def seed(url: str, installer: str) -> str:
    body = {"email": EMAIL, "password": PASSWORD, "passwordConfirm": PASSWORD}
    httpx.post(f"{url}/api/collections/_superusers/records", json=body, headers={"Authorization": installer}).raise_for_status()
    token = httpx.post(f"{url}/api/collections/_superusers/auth-with-password", json={"identity": EMAIL, "password": PASSWORD}).json()["token"]
    with httpx.Client(base_url=url, headers={"Authorization": token}) as su:
        authors = [su.post("/api/collections/users/records", json={"email": f"{n.lower()}@example.com", "name": n,
                           "password": "author-pass-1", "passwordConfirm": "author-pass-1"}).json()["id"]
                   for n in ("Ada", "Grace")]  # fmt: skip
        su.post("/api/collections", json={"name": "posts", "type": "base", "listRule": "", "viewRule": "",
                "createRule": '@request.auth.id != ""', "updateRule": "author = @request.auth.id", "fields": [
            {"name": "title", "type": "text", "required": True, "presentable": True},
            {"name": "status", "type": "select", "values": ["draft", "published"], "maxSelect": 1},
            {"name": "cover", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "tags", "type": "json"},
            {"name": "created", "type": "autodate", "onCreate": True},
        ]}).raise_for_status()  # fmt: skip
        colors = [(47, 111, 79), (200, 120, 40), (60, 90, 170), (150, 60, 120), (90, 90, 90)]
        for n, title in enumerate(["Hello, Roost", "Release notes", "A quiet week", "Scaling out", "Dashboards"]):
            data = {"title": title, "status": ["draft", "published"][n % 2], "author": authors[n % 2], "tags": '["news"]'}
            su.post("/api/collections/posts/records", data=data, files={"cover": (f"cover{n}.png", png(colors[n]), "image/png")})
        su.get("/api/collections/posts/records", params={"filter": "missing = 1"})  # a 400 in the request log
        su.post("/api/backups", json={"name": "nightly.zip"})
    return token


def shoot(page: Any, out: Path, name: str, size: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}-{size}-light.png"))
    if (name, size) in DARK:
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(out / f"{name}-{size}-dark.png"))
        page.emulate_media(color_scheme="light")


def links(page: Any, selector: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(selector, "links => links.map((a) => a.getAttribute('href'))")
    return [href.removeprefix("/_/") for href in hrefs]


def shoot_all(browser: Any, url: str, token: str, out: Path, size: str) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
    context.add_init_script(f"localStorage.setItem('roost.dashboard.token', {token!r})")
    page = context.new_page()
    page.goto(f"{url}/_/collections")
    page.locator("#nav a").first.wait_for(state="attached")  # the phone menu is closed
    for path in [*links(page, "#nav a"), "collections/posts"]:
        page.goto(f"{url}/_/{path}")
        page.wait_for_load_state("networkidle")
        tabs = links(page, ".tabs a")  # a page with tabs is shot once a tab
        for tab in tabs or [path]:
            if tab != path:
                page.goto(f"{url}/_/{tab}")
            shoot(page, out, tab.replace("/", "-"), size)
    page.goto(f"{url}/_/collections/posts")
    page.get_by_role("combobox", name="Filter").press_sequentially('status = "draft" && author.')
    shoot(page, out, "filter-suggestions", size)
    page.keyboard.press("Escape")
    page.get_by_role("button", name=re.compile("^Edit record")).first.click()
    shoot(page, out, "record-form", size)
    page.goto(f"{url}/_/collections")
    page.get_by_role("button", name="Edit collection posts").click()
    shoot(page, out, "collection-editor", size)
    page.goto(f"{url}/_/logs")
    page.get_by_role("button", name=re.compile("^Details")).first.click()
    shoot(page, out, "log-details", size)
    if size == "phone":
        page.goto(f"{url}/_/collections")
        page.get_by_role("button", name="Menu").click()
        shoot(page, out, "menu", size)
    context.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url, installer = serve(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
                    page = context.new_page()
                    page.goto(f"{url}/_/#/install/{installer}")
                    shoot(page, out, "first-run", size)
                    context.close()
                token = seed(url, installer)
                for size in SIZES:
                    shoot_all(browser, url, token, out, size)
                    context = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[size], strict=True)))
                    page = context.new_page()
                    page.goto(f"{url}/_/login")
                    shoot(page, out, "login", size)
                    context.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=15)
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "dashboard-screenshots"))
