"""Pool sizing: a per-host connection budget spread over the worker processes."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from roost.config import Config, cpu_count, default_pool_size
from roost.core.db.facade import Database
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
