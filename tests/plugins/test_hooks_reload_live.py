"""A live ``roost serve --hooksWatch`` picks up an edited hooks file while a realtime stream stays
open: the stream keeps delivering, now with the new file's hook applied."""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import LiveServer, start_server

HOOKS = """
from roost.hooks import app

@app.on_record_create("posts")
async def stamp(e):
    e.record["slug"] = "{version}"
    await e.next()

@app.route("GET", "/api/version")
async def version(e):
    return {{"version": "{version}"}}
"""
WAIT = 60.0


def write_hooks(directory: Path, version: str, extra: str = "") -> Path:
    path = directory / "stamp.py"
    path.write_text(textwrap.dedent(HOOKS.format(version=version)) + extra)
    return path


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def frames(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    frame: dict[str, str] = {}
    for line in lines:
        if not line:
            if frame:
                yield frame
            frame = {}
            continue
        key, _, value = line.partition(":")
        frame[key] = value


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Path]]:
    root = Path(tempfile.mkdtemp(prefix="roost-hooks-live-"))
    hooks = root / "roost_hooks"
    hooks.mkdir()
    write_hooks(hooks, "v1")
    monkeypatch.setenv("ROOST_HOOKS_WATCH", "true")
    server = start_server("roost", workdir=root)
    try:
        yield server, hooks
    finally:
        server.stop()


def test_edited_hooks_apply_without_dropping_an_open_stream(live: tuple[LiveServer, Path]) -> None:
    server, hooks = live
    su = {"Authorization": server.superuser_token()}
    with server.client() as http:
        res = http.post("/api/collections", headers=su, json={
            "name": "posts", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "title", "type": "text"}, {"name": "slug", "type": "text"}]})
        assert res.status_code == 200, res.text
        assert http.get("/api/version").json() == {"version": "v1"}

        with http.stream("GET", "/api/realtime") as stream:
            events = frames(stream.iter_lines())
            connect = next(events)
            assert connect["event"] == "PB_CONNECT"
            client_id = json.loads(connect["data"])["clientId"]
            res = http.post("/api/realtime", json={"clientId": client_id, "subscriptions": ["posts"]})
            assert res.status_code == 204, res.text

            write_hooks(hooks, "v2")
            wait_for(lambda: http.get("/api/version").json() == {"version": "v2"}, "the v2 route")
            broken = write_hooks(hooks, "v3", "raise RuntimeError('half-written')\n")
            wait_for(lambda: f"{broken}:" in server.log_tail(200), "the reload error in the log")
            assert http.get("/api/version").json() == {"version": "v2"}

            created = http.post("/api/collections/posts/records", json={"title": "after reload"}).json()
            assert created["slug"] == "v2"
            event = next(events)  # the stream opened before both reloads still delivers
            assert event["event"] == "posts"
            assert json.loads(event["data"])["record"]["id"] == created["id"]

    errors = [line for line in server.log_tail(200).splitlines() if f"{broken}:" in line]
    assert len(errors) == 1 and "RuntimeError: half-written" in errors[0]


def local_port(response: httpx.Response) -> int:
    """The client-side port of the TCP connection that carried ``response``."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def test_a_keep_alive_connection_survives_a_reload(live: tuple[LiveServer, Path]) -> None:
    server, hooks = live
    with httpx.Client(base_url=server.base_url, timeout=30, limits=httpx.Limits(max_connections=1)) as http:
        first = http.get("/api/version")
        assert first.json() == {"version": "v1"}
        write_hooks(hooks, "v2")
        wait_for(lambda: http.get("/api/version").json() == {"version": "v2"}, "the v2 route")
        last = http.get("/api/version")
        assert local_port(last) == local_port(first)  # the same connection carried both
