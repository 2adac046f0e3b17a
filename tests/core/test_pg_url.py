"""PostgreSQL connect keywords come from the database URL without SQLAlchemy (which a
PostgreSQL worker no longer loads): the parts must be the ones SQLAlchemy's URL parser gave."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from roost.core.db.postgres import connect_options, url_parts

URLS = [
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "postgresql+asyncpg://u%40x:p%3Aw%2F@[::1]:5433/d%20b?ssl=require&x=1&x=2",
    "postgresql+asyncpg:///test?host=/var/run/postgresql",
    "postgresql+asyncpg://u:@h/db",
    "postgresql+asyncpg://h",
    "postgresql://user@localhost",
    "postgresql+asyncpg://a:b@H.Example.COM/x?x=1&x=2&x=3&y=",
    "postgresql+asyncpg://[fe80::1%25eth0]/db",
    "postgresql+asyncpg://a@h:5432/db?host=/tmp&port=6000",
    "postgresql+asyncpg://us%2Fer:pa%20ss%25@db.internal:6543/my%2Fdb?ssl=verify-full&sslrootcert=/ca.pem",
]


@pytest.mark.parametrize("url", URLS)
def test_the_url_parts_are_sqlalchemys(url: str) -> None:
    parsed = make_url(url)
    expected = {k: v for k, v in parsed.translate_connect_args(username="user").items() if v is not None}
    expected |= dict(parsed.query)
    if "port" in expected:
        expected["port"] = int(expected["port"])
    options = connect_options(url)
    got = {k: v for k, v in options.items() if k not in ("server_settings", "timeout", "statement_cache_size")}
    assert got == expected


def test_credentials_and_database_are_percent_decoded() -> None:
    parts = url_parts("postgresql+asyncpg://u%40x:p%3Aw%2F@[::1]:5433/d%20b")
    assert parts == {"host": "::1", "port": "5433", "user": "u@x", "password": "p:w/", "database": "d b"}
