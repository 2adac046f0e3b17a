"""The public_dir built-in plugin: static files at ``/`` with caching headers, SPA fallback,
no path traversal, and Roost's own routes never shadowed."""

from __future__ import annotations

import asyncio
import http.client
import os
from pathlib import Path
from typing import Any

import pytest

from roost.testing import make_test_app
from tests.roost_process import roost_process

NOT_FOUND = {"data": {}, "message": "File not found.", "status": 404}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A public dir with an index, an asset, a sub directory and a symlink out of the dir."""
    public = tmp_path / "public"
    (public / "assets").mkdir(parents=True)
    (public / "docs").mkdir()
    (public / "index.html").write_text("<h1>spa</h1>")
    (public / "assets" / "app.js").write_text("console.log(1)")
    (public / "assets" / "style.css").write_text("body{}")
    (public / "docs" / "index.html").write_text("docs home")
    # high bytes only: a run of ASCII digits would look like a recorded test password to the canary scan
    (public / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)) * 2)
    (tmp_path / "secret.txt").write_text("top secret")
    (public / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (public / "inside.txt").symlink_to(public / "assets" / "style.css")
    return public


async def raw_get(
    asgi: Any, raw_path: bytes, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app, with the path as the server would decode it
    (no client-side normalisation of ``..`` or ``%2e``)."""
    from urllib.parse import unquote_to_bytes

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
        "raw_path": raw_path, "root_path": "", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "test", **(headers or {})}.items()],
        "client": ("127.0.0.1", 1234), "server": ("test", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []
    requested, done = [False], asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not requested[0]:
            requested[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client goes away once the whole response arrived
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await asgi(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


async def test_files_are_served_with_type_and_caching_headers(tmp_path: Path, site: Path) -> None:
    async with make_test_app(tmp_path / "data", public_dir=site) as api:
        index = await api.client.get("/")
        assert index.status_code == 200 and index.text == "<h1>spa</h1>"
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        css = await api.client.get("/assets/style.css")
        assert css.text == "body{}" and css.headers["content-type"] == "text/css; charset=utf-8"
        js = await api.client.get("/assets/app.js")
        assert js.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
        )
        png = await api.client.get("/logo.png")
        assert (
            png.content == (site / "logo.png").read_bytes()
            and png.headers["content-type"] == "image/png"
        )
        assert png.headers["cache-control"] == "no-cache"
        etag, modified = png.headers["etag"], png.headers["last-modified"]
        assert etag and modified
        again = await api.client.get("/logo.png", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        since = await api.client.get("/logo.png", headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        changed = await api.client.get("/logo.png", headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200
        head = await api.client.head("/assets/style.css")
        assert (
            head.status_code == 200
            and head.content == b""
            and head.headers["content-length"] == "6"
        )
        part = await api.client.get("/logo.png", headers={"Range": "bytes=0-3"})
        assert part.status_code == 206 and part.content == b"\x89PNG"
        docs = await api.client.get("/docs", follow_redirects=False)
        assert docs.status_code == 301 and docs.headers["location"] == "/docs/"
        assert (await api.client.get("/docs/")).text == "docs home"
        inside = await api.client.get("/inside.txt")  # a symlink that stays inside the dir
        assert inside.text == "body{}"


async def test_index_fallback_serves_spa_routes_but_not_missing_assets(
    tmp_path: Path, site: Path
) -> None:
    async with make_test_app(tmp_path / "data", public_dir=site) as api:
        route = await api.client.get("/dashboard/settings")
        assert route.status_code == 200 and route.text == "<h1>spa</h1>"
        assert route.headers["cache-control"] == "no-cache"
        missing = await api.client.get("/assets/missing.js")
        assert missing.status_code == 404 and missing.json() == NOT_FOUND


async def test_without_index_fallback_a_missing_path_is_pocketbase_404(
    tmp_path: Path, site: Path
) -> None:
    async with make_test_app(tmp_path / "data", public_dir=site, index_fallback=False) as api:
        missing = await api.client.get("/dashboard/settings")
        assert missing.status_code == 404 and missing.json() == NOT_FOUND
        assert (await api.client.get("/")).text == "<h1>spa</h1>"


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/../secret.txt",
        b"/assets/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E%2Fsecret.txt",
        b"/assets/%2e%2e/%2e%2e/secret.txt",
        b"/..%5csecret.txt",
        b"/escape.txt",
        b"/index.html%00.png",
        b"//etc/passwd",
        b"/" + os.fsencode(Path("/etc/passwd")),
    ],
)
async def test_nothing_outside_the_public_dir_is_reachable(
    tmp_path: Path, site: Path, raw_path: bytes
) -> None:
    async with make_test_app(tmp_path / "data", public_dir=site) as api:
        status, _, body = await raw_get(api.roost.asgi, raw_path)
        assert b"top secret" not in body and b"root:" not in body
        # a path that stays inside maps to a missing file there: the SPA index at most
        assert (status, body) in (
            (404, b'{"data":{},"message":"File not found.","status":404}'),
            (200, b"<h1>spa</h1>"),
        )
        if (
            b".." in raw_path.lower()
            or b"%2e" in raw_path.lower()
            or b"%00" in raw_path
            or raw_path == b"/escape.txt"
        ):
            assert status == 404


async def test_api_and_dashboard_paths_are_never_shadowed(tmp_path: Path, site: Path) -> None:
    (site / "api").mkdir()
    (site / "api" / "health").write_text("shadow")
    (site / "_").mkdir()
    (site / "_" / "index.html").write_text("shadow")
    async with make_test_app(tmp_path / "data", public_dir=site) as api:
        health = await api.client.get("/api/health")
        assert health.json()["message"] == "API is healthy."
        unknown = await api.client.get("/api/nothing-here")
        assert unknown.status_code == 404 and unknown.json() == NOT_FOUND
        dashboard = await api.client.get("/_/")
        assert dashboard.status_code == 200 and "shadow" not in dashboard.text and '<div id="app">' in dashboard.text
        records = await api.client.get("/api/collections/users/records")
        assert records.status_code == 200 and "items" in records.json()
        post = await api.client.post("/index.html")
        assert (
            post.status_code == 404
            and post.json()["message"] == "The requested resource wasn't found."
        )


async def test_special_and_unreadable_files_are_404(tmp_path: Path, site: Path) -> None:
    os.mkfifo(site / "pipe")
    (site / "locked.txt").write_text("no")
    (site / "locked.txt").chmod(0)
    async with make_test_app(tmp_path / "data", public_dir=site, index_fallback=False) as api:
        assert (await api.client.get("/pipe")).json() == NOT_FOUND
        if os.geteuid() != 0:  # root reads any file
            assert (await api.client.get("/locked.txt")).json() == NOT_FOUND


async def test_default_public_dir_sits_next_to_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "roost_public").mkdir()
    (tmp_path / "roost_public" / "hello.txt").write_text("hi")
    async with make_test_app(tmp_path / "data") as api:
        hello = await api.client.get("/hello.txt")
        assert hello.text == "hi" and hello.headers["content-type"] == "text/plain; charset=utf-8"


async def test_no_public_dir_answers_404(tmp_path: Path) -> None:
    async with make_test_app(tmp_path / "data") as api:
        missing = await api.client.get("/")
        assert missing.status_code == 404 and missing.json() == NOT_FOUND


def test_roost_serve_flags_over_http(tmp_path: Path, site: Path) -> None:
    """The CLI flags, through uvicorn: raw paths reach the app as sent."""
    with roost_process(tmp_path, "--publicDir", str(site), "--indexFallback=false") as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        for path, status, text in [
            ("/assets/style.css", 200, "body{}"),
            ("/spa/route", 404, "File not found."),
            ("/../secret.txt", 404, "File not found."),
            ("/%2e%2e/secret.txt", 404, "File not found."),
        ]:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read().decode()
            finally:
                conn.close()
            assert (response.status, text in body) == (status, True), path
            assert "top secret" not in body


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], None),  # the config default (on)
        (["--indexFallback"], True),
        (["--indexFallback", "false"], False),
        (["--indexFallback=false"], False),
        (["--indexFallback", "--dev"], True),
    ],
)
def test_index_fallback_flag_spellings(args: list[str], expected: bool | None) -> None:
    from roost.cli import serve

    assert serve.make_context("serve", list(args)).params["index_fallback"] is expected
