"""A throwaway database for one test app: SQLite in the data dir, a fresh PostgreSQL schema, or
this process's MySQL/MariaDB test database put back into its just-bootstrapped state."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

#: the servers the test backends use (override with ROOST_TEST_PG_URL / ROOST_TEST_MYSQL_URL)
PG_URL = os.environ.get("ROOST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("ROOST_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
BACKENDS = ("sqlite", "postgres", "mysql")


class ServiceUnavailable(Exception):
    """The database server a backend needs does not answer; ``str(exc)`` is a one-line reason."""


async def pg_available(url: str = PG_URL) -> str | None:
    """None when PostgreSQL answers at ``url``, else a one-line reason."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()
    except Exception as exc:  # any connection failure means "not here"
        return f"PostgreSQL not reachable at {url}: {type(exc).__name__}"
    return None


@asynccontextmanager
async def temporary_database(backend: str) -> AsyncIterator[dict[str, Any]]:
    """The ``Config`` values of an empty database on ``backend``, removed (or reset) afterwards."""
    if backend == "sqlite":
        yield {}
    elif backend == "postgres":
        async with _pg_schema() as values:
            yield values
    elif backend == "mysql":
        from roost.testing.mysql import database_url, mysql_available, worker_database

        reason = await mysql_available(MYSQL_URL)
        if reason:
            raise ServiceUnavailable(reason)
        yield {"db_url": database_url(MYSQL_URL, await worker_database(MYSQL_URL))}
    else:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


@asynccontextmanager
async def _pg_schema() -> AsyncIterator[dict[str, Any]]:
    import asyncpg

    reason = await pg_available()
    if reason:
        raise ServiceUnavailable(reason)
    schema = "t_" + secrets.token_hex(6)
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        yield {"db_url": PG_URL, "db_schema": schema}
    finally:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()
