"""Screenshots of every dashboard page at 1280x800 and 390x844, in light and dark.

    .venv/bin/python docs/dashboard/screenshots.py [OUT_DIR]     # default ./dashboard-screenshots

Starts a fresh ``roost serve`` (no superuser), creates the first superuser through the
first-run link, seeds a little data over the public API, then drives Debian's Chromium.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
EMAIL, PASSWORD = "admin@example.com", "admin-password-1"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
PAGES = ["collections", "collections/posts", "collections/_superusers", "settings/application", "settings/mail",
         "settings/storage", "logs", "backups", "crons", "api/openapi", "api/graphql"]


def serve(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = data / "serve.out"
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "roost", "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data / "pb")],
                                   cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(300):
        found = re.search(r"/_/#/install/(\S+)", out.read_text(errors="replace"))
        if found:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return process, f"http://127.0.0.1:{port}", found.group(1)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(out.read_text(errors="replace"))


def seed(url: str, installer: str) -> str:
    body = {"email": EMAIL, "password": PASSWORD, "passwordConfirm": PASSWORD}
    httpx.post(f"{url}/api/collections/_superusers/records", json=body, headers={"Authorization": installer}).raise_for_status()
    token = httpx.post(f"{url}/api/collections/_superusers/auth-with-password", json={"identity": EMAIL, "password": PASSWORD}).json()["token"]
    with httpx.Client(base_url=url, headers={"Authorization": token}) as su:
        su.post("/api/collections", json={"name": "posts", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "title", "type": "text", "required": True, "presentable": True},
            {"name": "status", "type": "select", "values": ["draft", "published"], "maxSelect": 1},
            {"name": "cover", "type": "file", "maxSelect": 1},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ]}).raise_for_status()  # fmt: skip
        for n, title in enumerate(["Hello, Roost", "Release notes", "A quiet week", "Scaling out", "Dashboards"]):
            su.post("/api/collections/posts/records", json={"title": title, "status": ["draft", "published"][n % 2]})
        su.post("/api/backups", json={"name": "nightly.zip"})
    return token


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url, installer = serve(Path(tmp))
        try:
            token = seed(url, installer)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
                for size, (width, height) in SIZES.items():
                    for scheme in ("light", "dark"):
                        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                        context.add_init_script(f"localStorage.setItem('roost.dashboard.token', {token!r})")
                        page = context.new_page()
                        for path in PAGES:
                            page.goto(f"{url}/_/{path}")
                            page.wait_for_load_state("networkidle")
                            name = path.replace("/", "-")
                            page.screenshot(path=str(out / f"{name}-{size}-{scheme}.png"))
                        context.close()
                login = browser.new_context(viewport={"width": 1280, "height": 800})
                page = login.new_page()
                page.goto(f"{url}/_/login")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / "login-desktop-light.png"))
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=15)
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "dashboard-screenshots"))
