"""Pool sizing: a per-host connection budget spread over the worker processes; and the PostgreSQL
pool's reuse, waiting, replacement and closing, against a real server."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from pydantic import ValidationError

from roost.config import Config, cpu_count, default_pool_size
from roost.core.db import pg_pool
from roost.core.db.base import DatabaseUnavailable, QueryError, UniqueViolation
from roost.core.db.facade import Database
from roost.core.db.postgres import PgBackend
from tests.conftest import PG_URL, _pg_available, skip_or_fail


@pytest.mark.parametrize(
    ("workers", "cores", "expected"),
    [
        (1, 2, 10),  # the budget floor: one worker keeps 10
        (2, 2, 5),
        (4, 2, 3),  # ceil(10 / 4) = 3, the per-process floor
        (8, 2, 3),
        (1, 8, 20),  # 32 budget, capped at 20 for one event loop
        (2, 8, 16),
        (16, 16, 4),
        (64, 16, 3),
    ],
)
def test_the_default_pool_spreads_a_core_budget_over_workers(workers: int, cores: int, expected: int) -> None:
    assert default_pool_size(workers, cores) == expected


def test_the_config_derives_the_pool_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config(workers=3).pool_size == default_pool_size(3, cpu_count())
    assert Config(workers=3, db_pool_size=7).pool_size == 7
    monkeypatch.setenv("ROOST_DB_POOL_SIZE", "5")
    assert Config().pool_size == 5
    with pytest.raises(ValidationError):
        Config(db_pool_size=-1)


async def test_postgres_opens_at_most_pool_plus_overflow_connections() -> None:
    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    db = Database(Config(db_url=PG_URL).database_url, pool_size=2)
    try:
        pids = await asyncio.gather(*(db.fetch_value("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(12)))
    finally:
        await db.close()
    # 2 pooled + 2 overflow; the rest waited for a free connection instead of opening more
    assert 1 <= len(set(pids)) <= 4


# ----- Roost's own PostgreSQL pool --------------------------------------------------------------


async def _pg_backend(pool_size: int = 1) -> PgBackend:
    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    return PgBackend(Config(db_url=PG_URL).database_url, pool_size=pool_size)


async def _backend_pid(backend: PgBackend) -> int:
    async with backend.read() as conn:
        return int(await conn.fetch_value("SELECT pg_backend_pid()"))


async def test_a_one_statement_read_gives_its_connection_back_after_an_answer_or_an_error() -> None:
    backend = await _pg_backend()
    try:
        first = await backend.read_one("fetch_value", "SELECT pg_backend_pid()", None)
        with pytest.raises(QueryError):
            await backend.read_one("fetch_value", "SELECT * FROM no_such_table_here", None)
        assert await backend.read_one("fetch_value", "SELECT pg_backend_pid()", None) == first
        assert await backend.read_one("fetch_one", "SELECT 1 AS a", None) == {"a": 1}
        rows = await backend.read_one("fetch_all", "SELECT n FROM generate_series(1, :k) AS n", {"k": 2})
        assert rows == [{"n": 1}, {"n": 2}]
    finally:
        await backend.close()


async def test_a_free_connection_is_reused_and_none_is_opened_twice() -> None:
    backend = await _pg_backend()
    try:
        first = await _backend_pid(backend)
        assert [await _backend_pid(backend) for _ in range(5)] == [first] * 5
        async with backend.begin() as conn:
            await conn.execute("SELECT 1")
        assert await _backend_pid(backend) == first
    finally:
        await backend.close()


async def test_a_connection_left_inside_a_transaction_is_closed_not_reused() -> None:
    backend = await _pg_backend()
    try:
        async with backend.read() as conn:
            first = int(await conn.fetch_value("SELECT pg_backend_pid()"))
            await conn.execute("BEGIN")  # a transaction the caller forgot to end
        # the next request must not run inside that transaction
        async with backend.read() as conn:
            assert int(await conn.fetch_value("SELECT pg_backend_pid()")) != first
    finally:
        await backend.close()


@pytest.mark.parametrize("way", ["read", "read_one"])
async def test_a_request_cancelled_mid_statement_does_not_hand_its_connection_on(way: str) -> None:
    """Through a read connection, and through the one-statement read the database facade uses."""
    backend = await _pg_backend()
    try:
        first = await _backend_pid(backend)

        async def slow() -> None:
            if way == "read_one":
                await backend.read_one("fetch_value", "SELECT pg_sleep(5)", None)
                return
            async with backend.read() as conn:
                await conn.fetch_value("SELECT pg_sleep(5)")

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = asyncio.get_running_loop().time()
        # a fresh connection answers at once; the cancelled one would still be asleep
        assert await _backend_pid(backend) != first
        assert asyncio.get_running_loop().time() - started < 2
        # and the statement was cancelled on the server, not left running there
        watcher = await asyncpg.connect(PG_URL)
        try:
            for _ in range(30):
                running = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'"
                if await watcher.fetchval(running, first) == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the cancelled statement still runs on the server")
        finally:
            await watcher.close()
    finally:
        await backend.close()


async def test_a_request_waits_for_a_busy_pool_and_gives_up_with_503(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = await _pg_backend(pool_size=1)  # at most 2 connections
    monkeypatch.setattr("roost.core.db.postgres.POOL_TIMEOUT", 0.3)
    try:
        release = asyncio.Event()

        async def hold() -> None:
            async with backend.read() as conn:
                await conn.fetch_value("SELECT 1")
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(DatabaseUnavailable):
            await _backend_pid(backend)
        waiting = asyncio.create_task(_backend_pid(backend))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()  # a connection comes back and goes to the waiting request
        assert await asyncio.wait_for(waiting, 2) > 0
        await asyncio.gather(*holders)
    finally:
        await backend.close()


async def test_a_connection_the_server_closed_is_replaced() -> None:
    backend = await _pg_backend()
    killer = await asyncpg.connect(PG_URL)
    try:
        first = await _backend_pid(backend)
        await killer.fetch("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)
        assert await _backend_pid(backend) not in (first, 0)
    finally:
        await killer.close()
        await backend.close()


async def test_closing_the_pool_waits_for_a_running_request() -> None:
    backend = await _pg_backend()
    try:
        finished: list[int] = []
        checked_out = asyncio.Event()

        async def work() -> None:
            async with backend.read() as conn:
                checked_out.set()
                finished.append(int(await conn.fetch_value("SELECT 7 FROM pg_sleep(0.3)")))

        task = asyncio.create_task(work())
        # the request holds its connection (opening one can take longer than any fixed pause on
        # a loaded machine: a close before that refuses the request instead of waiting for it)
        await asyncio.wait_for(checked_out.wait(), 10)
        await asyncio.sleep(0.05)
    finally:
        await backend.close()
    await task
    assert finished == [7]
    with pytest.raises(DatabaseUnavailable):
        await _backend_pid(backend)


async def test_idle_connections_are_closed_after_their_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_pool, "REAP_EVERY", 0.1)
    backend = await _pg_backend()
    monkeypatch.setattr(backend, "IDLE_LIFETIME", 0.2)
    watcher = await asyncpg.connect(PG_URL)
    try:
        pid = await _backend_pid(backend)
        alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
        assert await watcher.fetchval(alive, pid) == 1
        await asyncio.sleep(0.8)
        assert await watcher.fetchval(alive, pid) == 0
        assert await _backend_pid(backend) != pid  # and a new one opens on demand
    finally:
        await watcher.close()
        await backend.close()


# ----- one-statement writes -----------------------------------------------------------------------


async def _pg_database() -> Database:
    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    return Database(Config(db_url=PG_URL).database_url, pool_size=2)


async def test_a_one_statement_write_runs_without_a_transaction_block_and_commits() -> None:
    db = await _pg_database()
    table = f"one_{secrets.token_hex(4)}"
    try:
        async with db.transaction() as conn:
            await conn.execute_ddl(f'CREATE TABLE "{table}" (id TEXT PRIMARY KEY)')
        committed: list[str] = []

        async def after() -> None:
            committed.append("yes")

        async with db.transaction(one_statement=True) as conn:
            assert not conn._conn.is_in_transaction()  # no BEGIN was sent
            await conn.execute(f'INSERT INTO "{table}" (id) VALUES (:id)', {"id": "a"})
            await db.after_commit(after)
            with pytest.raises(RuntimeError, match="second statement"):
                await conn.execute(f'INSERT INTO "{table}" (id) VALUES (:id)', {"id": "b"})
        assert committed == ["yes"]
        assert await db.fetch_all(f'SELECT id FROM "{table}" ORDER BY id') == [{"id": "a"}]  # "b" was never sent

        with pytest.raises(UniqueViolation):
            async with db.transaction(one_statement=True) as conn:
                await conn.execute(f'INSERT INTO "{table}" (id) VALUES (:id)', {"id": "a"})
        assert await db.fetch_value(f'SELECT COUNT(*) FROM "{table}"') == 1

        async with db.transaction() as outer, db.transaction(one_statement=True) as inner:
            assert inner is outer and inner._conn.is_in_transaction()  # a batch's write joins it
            await inner.execute(f'INSERT INTO "{table}" (id) VALUES (:id)', {"id": "c"})
            await inner.execute(f'INSERT INTO "{table}" (id) VALUES (:id)', {"id": "d"})
        assert await db.fetch_value(f'SELECT COUNT(*) FROM "{table}"') == 3
    finally:
        async with db.transaction() as conn:
            await conn.execute_ddl(f'DROP TABLE IF EXISTS "{table}"')
        await db.close()
