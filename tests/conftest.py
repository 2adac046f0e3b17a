"""Shared fixtures: the services policy and a fresh Roost app per test on each database backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PG_URL = os.environ.get("ROOST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("ROOST_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long", action="store_true",
        help="release-gate counts for the security and reliability suites (sets ROOST_LONG_TESTS=1)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long"):
        os.environ["ROOST_LONG_TESTS"] = "1"  # read at import by the suites; xdist workers get the flag too


def long_run() -> bool:
    """True under ``pytest --long`` (or ``ROOST_LONG_TESTS=1``): the suites run their full counts."""
    return os.environ.get("ROOST_LONG_TESTS") == "1"


def services_required() -> bool:
    return os.environ.get("ROOST_TEST_SERVICES", "") == "required"


def skip_or_fail(reason: str) -> None:
    """Skip with a one-line reason, or fail when CI says every service must be there."""
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


async def _pg_available() -> str | None:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_URL, timeout=3)
        await conn.close()
    except Exception as exc:  # any connection failure means "not here"
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
    return None


@dataclass
class Api:
    """An httpx client bound to one in-process Roost, plus helpers for common auth."""

    client: httpx.AsyncClient
    app: Any
    su_token: str = ""

    async def call(self, method: str, url: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = token
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def su(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.call(method, url, token=self.su_token, **kwargs)

    async def login(self, collection: str, identity: str, password: str) -> str:
        res = await self.call(
            "POST", f"/api/collections/{collection}/auth-with-password", json={"identity": identity, "password": password}
        )
        assert res.status_code == 200, res.text
        token: str = res.json()["token"]
        return token


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def api(backend: str, tmp_path: Path) -> AsyncIterator[Api]:
    """A bootstrapped Roost with a superuser ``su@example.com`` / ``password123``."""
    from roost.apis.router import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    schema = ""
    if backend == "postgres":
        reason = await _pg_available()
        if reason:
            skip_or_fail(reason)
        import asyncpg

        schema = "t_" + secrets.token_hex(6)
        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        config = Config(data_dir=tmp_path, db_url=PG_URL, db_schema=schema)
    elif backend == "mysql":
        from tests.mysql_db import database_url, mysql_available, worker_database

        reason = await mysql_available(MYSQL_URL)
        if reason:
            skip_or_fail(reason)
        config = Config(data_dir=tmp_path, db_url=database_url(MYSQL_URL, await worker_database(MYSQL_URL)))
    else:
        config = Config(data_dir=tmp_path)
    app = App(config)
    await app.bootstrap()
    await manage_superuser(app, "upsert", "su@example.com", "password123")
    transport = httpx.ASGITransport(app=build_asgi(app, manage_lifespan=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
        api = Api(client, app)
        api.su_token = await api.login("_superusers", "su@example.com", "password123")
        yield api
    await app.close()
    if schema:
        import asyncpg

        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
def mail_sink() -> Any:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""
    from tests.mail_sink import MailSink

    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def mail_api(api: Api, mail_sink: Any) -> Api:
    """``api`` with its SMTP settings pointed at ``mail_sink``."""
    res = await api.su("PATCH", "/api/settings", json={
        "smtp": mail_sink.smtp_settings(),
        "meta": {"appName": "Roost Test", "appURL": "http://app.test", "senderName": "Roost Team",
                 "senderAddress": "no-reply@roost.test"},
    })  # fmt: skip
    assert res.status_code == 200, res.text
    return api
