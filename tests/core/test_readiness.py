"""Readiness: one cached, shared check of the database and the cross-process broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.config import Config
from roost.core.db.facade import Database
from roost.core.readiness import Readiness
from roost.tools.broker import create_broker
from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable


class CountingDatabase(Database):
    """A real SQLite database that counts the readiness round trips it answers."""

    checks = 0

    async def check(self) -> None:
        self.checks += 1
        await asyncio.sleep(0.05)  # long enough for the other probes to arrive while it runs
        await super().check()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    database = CountingDatabase(Config(data_dir=tmp_path).database_url)
    await database.ping()  # opens the SQLite file
    yield database
    await database.close()


async def test_a_probe_storm_costs_one_check(db: CountingDatabase) -> None:
    memory = create_broker("")
    readiness = Readiness(db, lambda: memory, ttl=60)
    reports = await asyncio.gather(*(readiness.check() for _ in range(50)))
    assert all(report.ready for report in reports)
    assert db.checks == 1
    await readiness.check()
    assert db.checks == 1  # still fresh


async def test_the_answer_is_checked_again_once_stale(db: CountingDatabase) -> None:
    memory = create_broker("")
    readiness = Readiness(db, lambda: memory, ttl=0)
    await readiness.check()
    await readiness.check()
    assert db.checks == 2


async def test_a_cancelled_prober_does_not_cancel_the_shared_check(db: CountingDatabase) -> None:
    memory = create_broker("")
    readiness = Readiness(db, lambda: memory, ttl=60)
    first = asyncio.ensure_future(readiness.check())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(readiness.check())
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).ready
    assert db.checks == 1


async def test_a_closed_database_is_not_ready(db: CountingDatabase) -> None:
    memory = create_broker("")
    await db.close()
    report = await Readiness(db, lambda: memory).check()
    assert not report.ready and set(report.problems) == {"database"}


async def test_a_reachable_redis_broker_is_ready(db: CountingDatabase) -> None:
    # its loss is tested live: tests/reliability/test_redis_outage.py cuts Redis under two workers
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    live = create_broker(REDIS_URL)
    await live.start()
    try:
        assert (await Readiness(db, lambda: live, ttl=0).check()).ready
    finally:
        await live.close()
    report = await Readiness(db, lambda: live, ttl=0).check()  # closed: the link is gone
    assert set(report.problems) == {"broker"}, report
    assert report.ready  # a broker outage degrades an instance, it does not take it out
