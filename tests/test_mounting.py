"""``Roost(...).asgi`` mounted inside another ASGI app, which does not forward lifespan events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from roost import Roost, ServeEvent
from roost.config import Config
from roost.core.events import TerminateEvent
from roost.testing import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, make_test_app

POSTS = {
    "name": "posts",
    "listRule": "",
    "viewRule": "",
    "fields": [{"name": "title", "type": "text"}],
}


async def home(request: Request) -> Response:
    return PlainTextResponse("parent")


async def seed_data_dir(data_dir: Path) -> None:
    """A data dir that already holds a collection and a record (so start-up must load them)."""
    async with make_test_app(data_dir, collections=[POSTS]) as api:
        await api.create_record("posts", {"title": "kept"})


def counted(server: Roost) -> dict[str, int]:
    counts = {"serve": 0, "terminate": 0}

    async def on_serve(e: ServeEvent) -> None:
        counts["serve"] += 1
        await e.next()

    def on_terminate(e: TerminateEvent) -> None:
        counts["terminate"] += 1

    server.app.hooks.on_serve.bind(on_serve)
    server.app.hooks.on_terminate.bind(on_terminate)
    return counts


def client_of(parent: Starlette) -> httpx.AsyncClient:
    # httpx's ASGI transport sends no lifespan events either: requests arrive on a cold app
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=parent), base_url="http://parent.test"
    )


async def test_a_mounted_app_starts_on_its_first_requests_once(tmp_path: Path) -> None:
    await seed_data_dir(tmp_path)
    server = Roost(Config(data_dir=tmp_path))
    counts = counted(server)
    parent = Starlette(routes=[Route("/", home), Mount("/pb", app=server.asgi)])
    async with client_of(parent) as client:
        answers = await asyncio.gather(
            *(client.get("/pb/api/collections/posts/records") for _ in range(8))
        )
        assert [a.status_code for a in answers] == [200] * 8
        assert all(a.json()["items"][0]["title"] == "kept" for a in answers)
        assert counts["serve"] == 1
        assert (await client.get("/")).text == "parent"
        login = {"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}
        assert (
            await client.post("/pb/api/collections/_superusers/auth-with-password", json=login)
        ).status_code == 200
        assert (await client.get("/pb/api/nowhere")).json()["message"] == "File not found."
    await server.stop()  # without a parent lifespan, the parent's owner closes Roost
    assert counts["terminate"] == 1


async def test_the_parent_lifespan_starts_and_stops_roost(tmp_path: Path) -> None:
    await seed_data_dir(tmp_path)
    server = Roost(Config(data_dir=tmp_path))
    counts = counted(server)
    parent = Starlette(routes=[Mount("/pb", app=server.asgi)], lifespan=server.lifespan)
    async with parent.router.lifespan_context(parent), client_of(parent) as client:
        assert counts == {"serve": 1, "terminate": 0}
        assert (await client.get("/pb/api/collections/posts/records")).json()["totalItems"] == 1
    assert counts == {"serve": 1, "terminate": 1}


async def test_rate_limit_rules_name_paths_below_the_mount_point(tmp_path: Path) -> None:
    await seed_data_dir(tmp_path)
    server = Roost(Config(data_dir=tmp_path))
    parent = Starlette(routes=[Mount("/pb", app=server.asgi)])
    async with client_of(parent) as client:
        login = {"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}
        token = (
            await client.post("/pb/api/collections/_superusers/auth-with-password", json=login)
        ).json()["token"]
        limits = {
            "enabled": True,
            "rules": [{"label": "GET /api/health", "maxRequests": 1, "duration": 60}],
        }
        res = await client.patch(
            "/pb/api/settings", json={"rateLimits": limits}, headers={"Authorization": token}
        )
        assert res.status_code == 200, res.text
        assert [(await client.get("/pb/api/health")).status_code for _ in range(2)] == [200, 429]
    await server.stop()
