"""Shared fixtures: the services policy and a fresh Roost app per test on each database backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.testing import ServiceUnavailable, TestApp, make_test_app
from roost.testing.databases import MYSQL_URL, PG_URL, pg_available

# every `roost serve` the suite starts keeps to one process unless its test asks for more (the
# default is one worker per core); tests of that default remove the variable
os.environ.setdefault("ROOST_WORKERS", "1")

__all__ = ["MYSQL_URL", "PG_URL", "Api", "long_run", "services_required", "skip_or_fail"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long", action="store_true",
        help="release-gate counts for the security and reliability suites (sets ROOST_LONG_TESTS=1)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    from tests import canary_plugin

    config.pluginmanager.register(canary_plugin, "roost-canary")  # S14: scans every response and log line
    from tests import hang_plugin

    config.pluginmanager.register(hang_plugin, "roost-hang")  # names the task a hung test waits on
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
    return await pg_available(PG_URL)


#: an in-process client of a fresh Roost (``roost.testing.TestApp``)
Api = TestApp


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def api(backend: str, tmp_path: Path) -> AsyncIterator[Api]:
    """A started Roost with a superuser ``su@example.com`` / ``password123``."""
    try:
        async with make_test_app(tmp_path, backend=backend) as app:
            yield app
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


@pytest.fixture(scope="session")
def s3_server() -> Any:
    """moto's S3 server, one per test session (each test makes its own bucket)."""
    from tests.s3_services import free_port, moto_server

    with moto_server(free_port()) as server:
        if isinstance(server, str):
            skip_or_fail(server)
        yield server


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


@pytest.fixture(scope="session")
def hub_url() -> Any:
    """The URL of an embedded hub (as ``roost serve`` runs for its workers), shared by the session."""
    from roost.tools.hub import HubThread

    hub = HubThread()
    hub.start()
    yield hub.url
    hub.stop()
