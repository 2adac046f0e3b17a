"""Test databases on MySQL/MariaDB.

Creating Roost's system tables costs about a second of DDL on InnoDB, so each test process
bootstraps one database once, remembers its tables and rows, and puts it back into that state
before every test: tables and views a test added are dropped, system tables whose definition
changed are recreated, and the rows are restored. That takes a few milliseconds plus the drops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from roost.config import Config
from roost.core.app import App

_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


def _connect_args(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }


def database_url(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def _connect(url: str, database: str | None = None) -> Any:
    import asyncmy

    return await asyncmy.connect(
        connect_timeout=3, db=database, autocommit=True, **_connect_args(url)
    )


async def _run(url: str, *statements: str) -> None:
    conn = await _connect(url)
    try:
        async with conn.cursor() as cursor:
            for sql in statements:
                await cursor.execute(sql)
    finally:
        conn.close()


async def mysql_available(url: str) -> str | None:
    """None when the server answers, else a one-line reason."""
    try:
        await _run(url, "SELECT 1")
    except Exception as exc:  # any connection failure means "not here"
        return f"MySQL/MariaDB not reachable at {url}: {type(exc).__name__}"
    return None


async def create_database(url: str, prefix: str = "t_") -> str:
    """Create an empty database with Roost's collation and return its name."""
    name = prefix + secrets.token_hex(6)
    await _run(url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin")
    return name


async def drop_database(url: str, name: str) -> None:
    await _run(url, f"DROP DATABASE IF EXISTS `{name}`")


@dataclass
class _Table:
    create: str
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class _Snapshot:
    url: str
    name: str
    tables: dict[str, _Table]


_snapshot: _Snapshot | None = None


async def worker_database(url: str) -> str:
    """This process's bootstrapped test database, in its just-bootstrapped state."""
    global _snapshot
    if _snapshot is None or _snapshot.url != url:
        name = await create_database(url, "tw_")
        atexit.register(lambda: asyncio.run(drop_database(url, name)))
        await _bootstrap(database_url(url, name))
        _snapshot = _Snapshot(url, name, await _read_tables(url, name))
    else:
        await _reset(_snapshot)
    return _snapshot.name


async def _bootstrap(url: str) -> None:
    app = App(Config(db_url=url))
    await app.bootstrap()
    await app.close()


async def _table_names(cursor: Any) -> dict[str, str]:
    await cursor.execute("SHOW FULL TABLES")
    return {str(row[0]): str(row[1]) for row in await cursor.fetchall()}


async def _create_statement(cursor: Any, table: str) -> str:
    await cursor.execute(f"SHOW CREATE TABLE `{table}`")
    return _AUTO_INCREMENT.sub("", str((await cursor.fetchone())[1]))


async def _read_tables(url: str, name: str) -> dict[str, _Table]:
    conn = await _connect(url, name)
    tables: dict[str, _Table] = {}
    try:
        async with conn.cursor() as cursor:
            for table in await _table_names(cursor):
                await cursor.execute(
                    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_NAME = %s AND EXTRA NOT LIKE %s ORDER BY ORDINAL_POSITION",
                    (name, table, "%GENERATED%"),
                )
                columns = [str(r[0]) for r in await cursor.fetchall()]
                await cursor.execute(
                    f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM `{table}`"
                )
                rows = list(await cursor.fetchall())
                tables[table] = _Table(await _create_statement(cursor, table), columns, rows)
    finally:
        conn.close()
    return tables


async def _reset(snapshot: _Snapshot) -> None:
    conn = await _connect(snapshot.url, snapshot.name)
    try:
        async with conn.cursor() as cursor:
            # a connection the last test left open would hold metadata locks that the drops below
            # wait on for a day (MariaDB's lock_wait_timeout): end them, and never wait long
            await cursor.execute("SET SESSION lock_wait_timeout = 30")
            await cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()", (snapshot.name,)
            )
            for (stale,) in await cursor.fetchall():
                with contextlib.suppress(Exception):  # it may have ended meanwhile
                    await cursor.execute(f"KILL {int(stale)}")
            for table, kind in (await _table_names(cursor)).items():
                if (
                    table in snapshot.tables
                    and await _create_statement(cursor, table) == snapshot.tables[table].create
                ):
                    continue
                await cursor.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} `{table}`")
            present = await _table_names(cursor)
            for table, saved in snapshot.tables.items():
                if table not in present:
                    await cursor.execute(saved.create)
                else:
                    await cursor.execute(f"DELETE FROM `{table}`")
                if saved.rows:
                    columns = ", ".join(f"`{c}`" for c in saved.columns)
                    marks = ", ".join(["%s"] * len(saved.columns))
                    await cursor.executemany(
                        f"INSERT INTO `{table}` ({columns}) VALUES ({marks})", saved.rows
                    )
    finally:
        conn.close()
