"""Hooks files: loaded in name order at start-up, refused when broken, reloaded in place."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from roost import Roost
from roost.cli import main
from roost.config import Config
from roost.core.events import RecordEvent
from roost.core.hooks import Hooks
from roost.core.superusers import manage_superuser
from roost.hooks import RouteEvent
from roost.plugins.hooks_dir import HookFileError, HooksDir
from roost.plugins.hooks_dir.api import HookAPI
from roost.testing import TestApp, make_test_app

POSTS = {
    "name": "posts",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "slug", "type": "text"}],
}


def write(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


async def create_post(api: TestApp, **body: Any) -> Any:
    return await api.call("POST", "/api/collections/posts/records", json=body)


def test_every_named_hook_has_a_decorator() -> None:
    assert {name for name in Hooks().all() if not hasattr(HookAPI, name)} == set()


async def test_files_run_in_name_order_and_bind_their_hooks(tmp_path: Path) -> None:
    hooks = tmp_path / "roost_hooks"
    write(hooks, "20_second.py", """
        from roost.hooks import RecordEvent, app

        @app.on_record_create("posts")
        async def second(e: RecordEvent) -> None:
            e.record["title"] += "-second"
            await e.next()
    """)
    write(hooks, "10_first.py", """
        from roost.hooks import app

        @app.on_record_create("posts")
        async def first(e):
            e.record["title"] += "-first"
            await e.next()

        @app.on_record_create("other")
        async def never(e):
            raise AssertionError("not for posts")
    """)
    async with make_test_app(tmp_path / "data", collections=[POSTS]) as api:
        res = await create_post(api, title="t")
        assert res.status_code == 200, res.text
        assert res.json()["title"] == "t-first-second"


async def test_a_hook_rejects_a_create_with_a_field_error(tmp_path: Path) -> None:
    write(tmp_path / "roost_hooks", "posts.py", """
        from roost.hooks import BadRequest, FieldError, app

        @app.on_record_create_request("posts")
        async def no_shouting(e):
            if e.record["title"].isupper():
                raise BadRequest("Please don't shout.", {"title": FieldError("no_shouting", "Lower case, please.")})
            await e.next()
    """)
    async with make_test_app(tmp_path / "data", collections=[POSTS]) as api:
        res = await create_post(api, title="HELLO")
        assert res.status_code == 400
        assert res.json() == {"status": 400, "message": "Please don't shout.",
                              "data": {"title": {"code": "no_shouting", "message": "Lower case, please."}}}
        assert (await create_post(api, title="hello")).status_code == 200


@pytest.mark.parametrize(
    ("source", "line", "error"),
    [
        ("from roost.hooks import app\n\ndef broken(:\n    pass\n", 3, "SyntaxError"),
        ("from roost.hooks import app\n\n\nundefined_name()\n", 4, "NameError: name 'undefined_name' is not defined"),
        ("from roost.hooks import app\n\n@app.on_record_create('posts')\nasync def f(e):\n    await e.next()\n"
         "@app.route('GET', 'no-leading-slash')\nasync def g(e):\n    return {}\n", 6, "AssertionError"),
    ],
)
def test_a_broken_file_stops_the_app_with_file_and_line(tmp_path: Path, source: str, line: int, error: str) -> None:
    path = write(tmp_path / "roost_hooks", "broken.py", source)
    with pytest.raises(HookFileError) as caught:
        Roost(Config(data_dir=tmp_path / "data"))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: {error}")
    assert "\n" not in message


def serve(*args: str) -> Any:
    """``roost serve`` on a port taken by this test: should the hooks check pass, it ends at once."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        return CliRunner().invoke(main, ["serve", *args, "--http", f"127.0.0.1:{port}"])


def test_serve_refuses_to_start_with_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path / "hooks", "bad.py", "from roost.hooks import app\nx = 1 +\n")
    result = serve("--dir", str(tmp_path / "data"), "--hooksDir", str(tmp_path / "hooks"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: hooks file {path}:2: SyntaxError: invalid syntax"]


async def test_reload_swaps_each_files_registrations_and_keeps_a_broken_files_last_good_ones(tmp_path: Path) -> None:
    hooks = tmp_path / "my_hooks"
    stamp = """
        from roost.hooks import app

        @app.on_record_create("posts")
        async def stamp(e):
            e.record["slug"] = "{version}"
            await e.next()

        @app.route("GET", "/api/version")
        async def version(e):
            return {{"version": "{version}"}}
    """
    write(hooks, "stamp.py", stamp.format(version="v1"))
    write(hooks, "extra.py", """
        from roost.hooks import app

        @app.route("GET", "/api/extra")
        async def extra(e):
            return {"extra": True}
    """)
    plugin = HooksDir(hooks)
    async with make_test_app(tmp_path / "data", collections=[POSTS], plugins=[plugin]) as api:
        assert (await create_post(api, title="a")).json()["slug"] == "v1"
        assert (await api.call("GET", "/api/version")).json() == {"version": "v1"}

        write(hooks, "stamp.py", stamp.format(version="v2"))
        (hooks / "extra.py").unlink()
        assert plugin.reload() == []
        assert (await create_post(api, title="b")).json()["slug"] == "v2"
        assert (await api.call("GET", "/api/version")).json() == {"version": "v2"}
        assert (await api.call("GET", "/api/extra")).status_code == 404
        assert len(api.app.hooks.on_record_create) == 1

        source = textwrap.dedent(stamp.format(version="v3")) + "raise RuntimeError('half-written')\n"
        broken = write(hooks, "stamp.py", source)
        errors = plugin.reload()
        line = len(source.splitlines())
        assert errors == [f"{broken}:{line}: RuntimeError: half-written"]
        assert (await create_post(api, title="c")).json()["slug"] == "v2"
        assert (await api.call("GET", "/api/version")).json() == {"version": "v2"}


def test_serve_refuses_a_file_whose_registration_fails(tmp_path: Path) -> None:
    path = write(tmp_path / "roost_hooks", "jobs.py", """
        from roost.hooks import app

        @app.on_record_create("posts")
        async def fine(e):
            await e.next()

        @app.on_record_create("posts", priority="high")
        async def bad_priority(e):
            await e.next()
    """)
    result = serve("--dir", str(tmp_path / "data"))
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: hooks file {path}:8: TypeError: ")


async def test_a_program_registers_with_the_roost_decorators(tmp_path: Path) -> None:
    server = Roost(Config(data_dir=tmp_path / "data"))

    @server.on_record_create("posts")
    async def slugify(e: RecordEvent) -> None:
        e.record["slug"] = e.record["title"].lower().replace(" ", "-")
        await e.next()

    @server.route("GET", "/api/hello/{name}")
    async def hello(e: RouteEvent) -> dict[str, str]:
        return {"message": f"Hello {e.params['name']}"}

    await server.start()
    try:
        await manage_superuser(server.app, "upsert", "su@example.com", "password123")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://t") as http:
            login = await http.post("/api/collections/_superusers/auth-with-password",
                                    json={"identity": "su@example.com", "password": "password123"})
            su = {"Authorization": login.json()["token"]}
            assert (await http.post("/api/collections", headers=su, json=POSTS)).status_code == 200
            created = await http.post("/api/collections/posts/records", json={"title": "Hello World"})
            assert created.json()["slug"] == "hello-world"
            assert (await http.get("/api/hello/you")).json() == {"message": "Hello you"}
    finally:
        await server.stop()

    copy = server.with_config(Config(data_dir=tmp_path / "other"))  # what `server.cli()` serves
    assert [h.func for h in copy.app.hooks.on_record_create.handlers] == [slugify]
    assert len(copy.routes.routes) == 1
