"""Plugins: a route, a middleware, a hook and a background job, each observed through HTTP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from starlette.exceptions import WebSocketException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from roost import App, Plugin, RecordEvent, Roost, ServeEvent
from roost.apis.openapi.operation import Op
from roost.config import Config
from roost.testing import TestApp, make_test_app
from tests.e2e.servers import _subprocess_env, free_port

POSTS = {
    "name": "posts",
    "listRule": "",
    "createRule": "",
    "fields": [{"name": "title", "type": "text"}],
}


class AuditHeader:
    """A plain ASGI middleware: every answer says the audit plugin saw it."""

    def __init__(self, app: ASGIApp, *, value: str) -> None:
        self.app = app
        self.value = value.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-audit", self.value)]
            await send(message)

        await self.app(scope, receive, send_with_header if scope["type"] == "http" else send)


class Audit(Plugin):
    """The hook queues every committed write; the job files it; the route lists what was filed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.filed: list[str] = []
        self.job_stopped = False

    def register(self, app: App) -> None:
        for hook in app.hooks.records_committed():
            hook.bind(self.on_write)
        app.hooks.on_serve.bind(self.on_serve)
        app.jobs.add("audit", self.file_entries)

    async def on_write(self, e: RecordEvent) -> None:
        if not e.collection.system:
            await self.queue.put(f"{e.action} {e.collection.name}")
        await e.next()

    async def on_serve(self, e: ServeEvent) -> None:
        e.router.add_route(
            "/api/audit",
            self.list_entries,
            ["GET"],
            openapi=Op("Audit entries", "audit", result={"type": "array"}),
        )
        e.router.add_route(
            "/api/audit/{collection}/notes", self.add_note, ["POST"], tags=["auditNote"], body_limit=64,
            openapi=Op("Add an audit note", "audit", body={"type": "object"}, result={"type": "array"}),
        )  # fmt: skip
        e.router.add_middleware(AuditHeader, value="on")
        await e.next()

    async def file_entries(self) -> None:
        try:
            while True:
                entry = await self.queue.get()
                self.filed.append(entry)
                self.queue.task_done()
        finally:
            self.job_stopped = True

    async def list_entries(self, request: Request) -> Response:
        await self.queue.join()  # everything the hook queued has been filed by the job
        return JSONResponse(self.filed)

    async def add_note(self, request: Request) -> Response:
        body = await request.json()
        await self.queue.put(f"note {request.path_params['collection']}: {body.get('text', '')}")
        return await self.list_entries(request)

    def commands(self) -> Sequence[click.Command]:
        @click.command("audit-path")
        @click.pass_obj
        def audit_path(server: Roost) -> None:
            """Print where this app keeps its data."""
            click.echo(f"data in {server.config.data_dir}")

        return [audit_path]


@pytest.fixture
async def audited(tmp_path: Path) -> Any:
    audit = Audit()
    async with make_test_app(tmp_path, collections=[POSTS], plugins=[audit]) as api:
        yield api, audit


async def test_the_hook_and_the_job_file_every_write_and_the_route_lists_them(
    audited: tuple[TestApp, Audit],
) -> None:
    api, _ = audited
    for title in ("a", "b"):
        assert (
            await api.call("POST", "/api/collections/posts/records", json={"title": title})
        ).status_code == 200
    res = await api.call("GET", "/api/audit")
    assert res.status_code == 200
    assert res.json() == ["create posts", "create posts"]


async def test_plugin_middleware_wraps_plugin_and_builtin_routes(
    audited: tuple[TestApp, Audit],
) -> None:
    api, _ = audited
    for url in ("/api/audit", "/api/health", "/api/nowhere"):
        res = await api.call("GET", url)
        assert res.headers["x-audit"] == "on", url
        assert res.headers["x-content-type-options"] == "nosniff", url  # still inside Roost's edge


async def test_plugin_routes_are_documented_in_the_openapi_document(
    audited: tuple[TestApp, Audit],
) -> None:
    api, _ = audited
    doc = (await api.su("GET", "/api/openapi.json")).json()
    assert doc["paths"]["/api/audit"]["get"]["summary"] == "Audit entries"
    assert doc["paths"]["/api/audit/{collection}/notes"]["post"]["tags"] == ["audit"]


async def test_a_route_body_limit_applies_to_that_route_only(
    audited: tuple[TestApp, Audit],
) -> None:
    api, _ = audited
    small = await api.call("POST", "/api/audit/posts/notes", json={"text": "short"})
    assert small.status_code == 200 and small.json() == ["note posts: short"]
    big = await api.call("POST", "/api/audit/posts/notes", json={"text": "x" * 100})
    assert big.status_code == 413 and big.json()["status"] == 413
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "x" * 100})
    assert res.status_code == 200  # the server-wide limit still applies elsewhere


async def test_plugin_route_tags_select_rate_limit_rules(audited: tuple[TestApp, Audit]) -> None:
    api, _ = audited
    limits = {
        "enabled": True,
        "rules": [{"label": "posts:auditNote", "maxRequests": 2, "duration": 60}],
    }
    assert (await api.su("PATCH", "/api/settings", json={"rateLimits": limits})).status_code == 200
    statuses = [
        (await api.call("POST", "/api/audit/posts/notes", json={"text": "n"})).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    other = await api.call("POST", "/api/audit/users/notes", json={"text": "n"})
    assert other.status_code == 200  # counted per collection


async def test_the_job_is_cancelled_when_the_app_stops(tmp_path: Path) -> None:
    audit = Audit()
    async with make_test_app(tmp_path, plugins=[audit]) as api:
        assert api.app.jobs.running()[-1] == "audit"  # after Roost's own jobs (cron, the queue worker ...)
        assert not audit.job_stopped
    assert audit.job_stopped
    assert api.app.jobs.running() == []


async def test_routes_cannot_be_added_once_the_app_serves(tmp_path: Path) -> None:
    late: list[Exception] = []

    class Late(Plugin):
        def register(self, app: App) -> None:
            app.hooks.on_serve.bind(self.after_next)

        async def after_next(self, e: ServeEvent) -> None:
            await e.next()
            try:
                e.router.add_route("/api/late", self.after_next, ["GET"])
            except RuntimeError as exc:
                late.append(exc)

    async with make_test_app(tmp_path, plugins=[Late()]) as api:
        assert (await api.call("GET", "/api/late")).status_code == 404
    assert len(late) == 1


class Sockets(Plugin):
    """Two websocket routes: one greets from the app it sees, one refuses with its own close code."""

    def register(self, app: App) -> None:
        app.hooks.on_serve.bind(self.on_serve)

    async def on_serve(self, e: ServeEvent) -> None:
        e.router.add_websocket_route("/ws/hello", self.hello)
        e.router.add_websocket_route("/ws/refuse", self.refuse)
        await e.next()

    async def hello(self, websocket: WebSocket) -> None:
        await websocket.accept()
        roost: App = websocket.app.state.roost
        await websocket.send_text(f"hello from {roost.config.data_dir.name}")
        await websocket.close()

    async def refuse(self, websocket: WebSocket) -> None:
        raise WebSocketException(code=4003, reason="not for you")


async def _websocket(asgi: ASGIApp, path: str) -> list[Message]:
    """What the app sends to a websocket client that connects to ``path`` and then waits."""
    sent: list[Message] = []
    incoming: list[Message] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"roost.test")], "subprotocols": [],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8090)}  # fmt: skip
    await asgi(scope, receive, send)
    return sent


async def test_plugin_websocket_routes_are_served_and_a_refusal_closes_with_its_code(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path / "socks"), plugins=[Sockets()])
    await server.start()
    try:
        hello = await _websocket(server.asgi, "/ws/hello")
        assert [m["type"] for m in hello] == ["websocket.accept", "websocket.send", "websocket.close"]
        assert hello[1]["text"] == "hello from socks"  # the route saw the app through the edge
        refused = await _websocket(server.asgi, "/ws/refuse")
        assert [(m["type"], m.get("code"), m.get("reason")) for m in refused] == [("websocket.close", 4003, "not for you")]
    finally:
        await server.stop()


async def test_an_on_serve_handler_that_stops_the_chain_stops_start_up(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path))
    server.app.hooks.on_serve.bind(lambda e: None)
    with pytest.raises(RuntimeError, match=r"without calling e\.next"):
        await server.start()


def test_plugin_commands_join_the_command_line(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path), plugins=[Audit()])
    out = CliRunner().invoke(server.commands(), ["audit-path"], obj=server)
    assert out.exit_code == 0, out.output
    assert out.output.strip() == f"data in {tmp_path}"
    assert "serve" in server.commands().commands


def test_builtin_commands_of_an_app_use_its_config(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path / "mine"))
    out = CliRunner().invoke(server.commands(), ["superuser", "upsert", "a@example.com", "password123"], obj=server)
    assert out.exit_code == 0, out.output
    assert (tmp_path / "mine" / "data.db").exists()


SERVED_APP = """
from pathlib import Path

from starlette.responses import PlainTextResponse

from roost import Plugin, Roost


class Hello(Plugin):
    def register(self, app):
        app.hooks.on_serve.bind(self.add_routes)
        app.hooks.on_terminate.bind(lambda e: (Path(e.app.config.data_dir) / "terminated").write_text("yes"))

    async def add_routes(self, e):
        e.router.add_route("/api/hello", self.hello, ["GET"])
        await e.next()

    async def hello(self, request):
        return PlainTextResponse("hello from a plugin")


Roost(plugins=[Hello()]).cli()
"""


def test_the_command_line_of_an_app_serves_its_plugins(tmp_path: Path) -> None:
    script, data, port = tmp_path / "app.py", tmp_path / "data", free_port()
    script.write_text(SERVED_APP)
    command = [
        sys.executable,
        str(script),
        "serve",
        "--http",
        f"127.0.0.1:{port}",
        "--dir",
        str(data),
    ]
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, env=_subprocess_env(), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}", process), (
            tmp_path / "server.log"
        ).read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/api/hello").text == "hello from a plugin"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert (data / "terminated").read_text() == "yes"  # graceful shutdown ran on_terminate
    refused = subprocess.run([*command, "--workers", "2", "--redis-url", "redis://127.0.0.1:6379/0"],
                             env=_subprocess_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1 and "without plugins" in refused.stderr


def wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False
