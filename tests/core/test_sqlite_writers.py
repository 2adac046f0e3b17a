"""Two writers on one SQLite file (two workers of ``roost serve``): one waits for the other's
write lock without blocking its event loop, retries often while waiting, and gives up only after
``LOCK_WAIT_SECONDS``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from roost.core.db import sqlite as sqlite_driver
from roost.core.db.base import QueryError
from roost.core.db.sqlite import LOCK_RETRY_MAX, SqliteBackend


async def _backends(path: Path) -> tuple[SqliteBackend, SqliteBackend]:
    first, second = SqliteBackend(str(path)), SqliteBackend(str(path))
    for backend in (first, second):
        await backend.ping()
    async with first.begin() as conn:
        await conn.execute_ddl('CREATE TABLE "t" ("n" INTEGER)')
    return first, second


async def test_a_writer_waits_for_the_other_process_and_then_commits(tmp_path: Path) -> None:
    first, second = await _backends(tmp_path / "data.db")
    other = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    other.execute('INSERT INTO "t" VALUES (1)')
    ticks = 0

    async def write() -> None:
        async with second.begin() as conn:
            await conn.execute('INSERT INTO "t" VALUES (2)')

    async def tick() -> None:  # the loop keeps running while the writer waits
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    writing, ticking = asyncio.create_task(write()), asyncio.create_task(tick())
    await asyncio.sleep(0.1)
    assert not writing.done() and ticks > 10
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 5)
    ticking.cancel()
    async with first.read() as conn:
        assert [r["n"] for r in await conn.fetch_all('SELECT "n" FROM "t" ORDER BY "n"')] == [1, 2]
    other.close()
    for backend in (first, second):
        await backend.close()


async def test_a_writer_retries_at_least_every_few_milliseconds_and_gives_up_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "LOCK_WAIT_SECONDS", 0.3)
    first, second = await _backends(tmp_path / "data.db")
    other = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def counted(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(sqlite_driver.asyncio, "sleep", counted)
    with pytest.raises(QueryError, match="locked"):
        async with second.begin():
            pass
    monkeypatch.setattr(sqlite_driver.asyncio, "sleep", real_sleep)
    assert sleeps and max(sleeps) <= LOCK_RETRY_MAX  # no retry more than 2 ms after the last
    assert sleeps == sorted(sleeps)
    other.execute("ROLLBACK")
    other.close()
    for backend in (first, second):
        await backend.close()
