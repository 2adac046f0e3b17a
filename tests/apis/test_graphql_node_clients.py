"""Node's ``graphql-ws`` client and a plain ``fetch`` client against a live ``roost serve``:
subscriptions under each subscriber's rules, mutations over the socket, queries and errors."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from roost.testing import TestApp
from tests.conftest import skip_or_fail
from tests.e2e.servers import LiveServer, RoostNotReady, ServiceUnavailable, start_server
from tests.graphql_world import World, seed

pytestmark = pytest.mark.e2e
JS_DIR = Path(__file__).resolve().parents[1] / "e2e" / "graphql_js"


def node_with_modules() -> str:
    """The node binary, after ``npm ci`` in tests/e2e/graphql_js when its modules are missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        skip_or_fail("node and npm are needed for the graphql-ws client")
    assert node is not None and npm is not None
    with (JS_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (JS_DIR / "node_modules" / "graphql-ws" / "package.json").exists():
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                skip_or_fail(f"npm ci failed in tests/e2e/graphql_js: {done.stderr.strip()[-300:]}")
    return node


@pytest.fixture
def server() -> Iterator[LiveServer]:
    try:
        started = start_server("roost")
    except (RoostNotReady, ServiceUnavailable) as exc:
        skip_or_fail(str(exc))
    with started:
        yield started


@pytest.fixture
async def live(server: LiveServer) -> AsyncIterator[tuple[LiveServer, World]]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        api = TestApp(http, None, su_token=server.superuser_token())  # type: ignore[arg-type]
        off = {"roostAuth": {"loginThrottle": {"enabled": False}}}
        assert (await api.su("PATCH", "/api/settings", json=off)).status_code == 200
        yield server, await seed(api)


def test_graphql_ws_and_fetch_clients(live: tuple[LiveServer, World]) -> None:
    node = node_with_modules()
    server, world = live
    args = [node, "run.mjs", server.base_url, str(world.tokens["owner"]), str(world.tokens["other"]), world.ids["owner"]]
    done = subprocess.run(args, cwd=JS_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["privateCreate"] == {"data": {"createPosts": {"title": "ws private"}}}
    assert out["publicCreate"] == {"data": {"createPosts": {"title": "ws public"}}}
    private = {"action": "create", "record": {"title": "ws private", "public": False, "author": {"name": "Owner"}}}
    public = {"action": "create", "record": {"title": "ws public", "public": True, "author": None}}
    assert out["ownerFirst"] == {"data": {"posts": private}}
    assert out["otherFirst"] == {"data": {"posts": public}}  # the private post never reached the other user
    (error,) = out["invalid"]["errors"]
    assert error["extensions"]["data"]["title"]["code"] == "validation_required" and out["invalid"]["data"] == {"createPosts": None}
    assert out["fetchQuery"] == {"status": 200, "body": {"data": {"postsList": {"items": [{"title": "ws public"}]}}}}
    assert out["fetchGuest"] == {"status": 200, "body": {"data": {"postsList": {"totalItems": 1}}}}
    assert out["fetchBad"]["status"] == 200 and out["fetchBad"]["body"]["errors"][0]["extensions"]["code"] == "graphql_validation"
