"""A fresh Roost per test: a temporary data dir (or database), a superuser, and an in-process client.

``make_test_app`` starts the app the way a server does (bootstrap, ``on_serve``, background jobs),
so plugin routes, middleware and hooks are in place, and talks to it through httpx's ASGI
transport: no socket, no port, the same code path as a real request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from roost.app import Plugin, Roost
from roost.config import Config
from roost.core.app import App
from roost.core.superusers import manage_superuser
from roost.testing.databases import temporary_database

SUPERUSER_EMAIL = "su@example.com"
SUPERUSER_PASSWORD = "password123"
BASE_URL = "http://roost.test"


@dataclass
class TestApp:
    """An httpx client bound to one started app, plus helpers for common auth."""

    __test__ = False  # not a pytest test class

    client: httpx.AsyncClient
    #: the core app: collections, settings, hooks, jobs ...
    app: App
    #: the superuser's auth token (``SUPERUSER_EMAIL`` / ``SUPERUSER_PASSWORD``)
    su_token: str = ""
    #: the ``Roost`` around ``app`` when ``make_test_app`` built it
    roost: Roost | None = None

    async def call(
        self, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A request as a guest, or with ``token`` as its ``Authorization``."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = token
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def su(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request as the superuser."""
        return await self.call(method, url, token=self.su_token, **kwargs)

    async def login(self, collection: str, identity: str, password: str) -> str:
        """The auth token of a password login (asserts it succeeds)."""
        res = await self.call(
            "POST",
            f"/api/collections/{collection}/auth-with-password",
            json={"identity": identity, "password": password},
        )
        _expect_ok(res)
        token: str = res.json()["token"]
        return token

    async def create_collection(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Create a collection as the superuser; returns it."""
        return await self._created("/api/collections", definition)

    async def create_record(self, collection: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record as the superuser; returns it."""
        return await self._created(f"/api/collections/{collection}/records", body)

    async def _created(self, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        res = await self.su("POST", url, json=dict(body))
        _expect_ok(res)
        created: dict[str, Any] = res.json()
        return created


def _expect_ok(res: httpx.Response) -> None:
    if res.status_code != 200:
        raise AssertionError(
            f"{res.request.method} {res.request.url.path} answered {res.status_code}: {res.text}"
        )


#: seeds a fresh test app (collections, records, settings ...) before the test runs
Seed = Callable[[TestApp], Awaitable[None]]


@asynccontextmanager
async def make_test_app(
    data_dir: Path,
    *,
    backend: str = "sqlite",
    collections: Sequence[Mapping[str, Any]] = (),
    seed: Seed | None = None,
    plugins: Sequence[Plugin] = (),
    builtins: bool = True,
    **config: Any,
) -> AsyncIterator[TestApp]:
    """A started Roost on ``backend`` ("sqlite", "postgres" or "mysql") with its data dir in
    ``data_dir``, a superuser, then ``collections`` and ``seed`` applied; stopped on exit.

    Raises :class:`~roost.testing.databases.ServiceUnavailable` when the database server of
    ``backend`` does not answer. ``config`` sets other :class:`~roost.config.Config` values.
    """
    async with temporary_database(backend) as database:
        server = Roost(Config(data_dir=data_dir, **database, **config), plugins=plugins, builtins=builtins)
        await server.start()
        try:
            await manage_superuser(server.app, "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=server.asgi), base_url=BASE_URL
            ) as client:
                test_app = TestApp(client, server.app, roost=server)
                test_app.su_token = await test_app.login(
                    "_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD
                )
                for definition in collections:
                    await test_app.create_collection(definition)
                if seed is not None:
                    await seed(test_app)
                yield test_app
        finally:
            await server.stop()
