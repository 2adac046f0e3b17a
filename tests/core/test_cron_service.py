"""app.cron: registering, listing and running jobs, the per-tick claim, and the scheduler loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.core.cron import CLAIM_RETENTION, CLAIMS_TABLE, Cron
from roost.core.errors import NotFound
from roost.testing import TestApp, make_test_app
from roost.tools.cron import CronError
from tests.conftest import Api

TICK = 29_399_040  # 2025-11-24 00:00 UTC, a Monday


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[TestApp]:
    async with make_test_app(tmp_path) as test_app:
        yield test_app


def listed(cron: Cron) -> list[tuple[str, str]]:
    return [(job.id, job.expression) for job in cron.jobs()]


async def test_add_replace_remove_and_the_listing_order(app: TestApp) -> None:
    cron = Cron(app.app.db)
    cron.add("zeta", "@hourly", lambda: None)
    cron.add("__pbSecond__", "1 * * * *", lambda: None)
    cron.add("Alpha", "*/5 1-3 * * 1,2", lambda: None)
    cron.add("__pbFirst__", "2 * * * *", lambda: None)
    cron.add("__custom__", "@daily", lambda: None)
    # system jobs (``__pb``) last, in registration order; the others by id
    assert listed(cron) == [
        ("Alpha", "*/5 1-3 * * 1,2"),
        ("__custom__", "0 0 * * *"),
        ("zeta", "0 * * * *"),
        ("__pbSecond__", "1 * * * *"),
        ("__pbFirst__", "2 * * * *"),
    ]
    cron.add("__pbSecond__", "3 * * * *", lambda: None)  # a replaced job moves to the end
    cron.remove("zeta")
    cron.remove("never-added")
    assert listed(cron)[-2:] == [("__pbFirst__", "2 * * * *"), ("__pbSecond__", "3 * * * *")]
    assert "zeta" not in dict(listed(cron))


async def test_an_invalid_expression_is_refused_and_the_old_job_stays(app: TestApp) -> None:
    cron = Cron(app.app.db)
    cron.add("report", "0 6 * * *", lambda: None)
    with pytest.raises(CronError, match="hour field '25'"):
        cron.add("report", "0 25 * * *", lambda: None)
    with pytest.raises(ValueError, match="non-empty id"):
        cron.add("", "* * * * *", lambda: None)
    assert listed(cron) == [("report", "0 6 * * *")]


async def test_run_awaits_async_and_plain_functions_and_logs_a_failure(
    app: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    cron, calls = Cron(app.app.db), []

    async def async_job() -> None:
        await asyncio.sleep(0)
        calls.append("async")

    def failing_job() -> None:
        raise RuntimeError("the report server is down")

    cron.add("async", "* * * * *", async_job)
    cron.add("plain", "* * * * *", lambda: calls.append("plain"))  # type: ignore[func-returns-value]
    cron.add("failing", "* * * * *", failing_job)
    await cron.run("async")
    await cron.run("plain")
    with caplog.at_level(logging.ERROR, logger="roost.cron"):
        await cron.run("failing")
    assert calls == ["async", "plain"]
    assert "cron job failing failed" in caplog.text
    assert "the report server is down" in caplog.text
    with pytest.raises(NotFound, match="Missing or invalid cron job"):
        await cron.run("missing")
    with pytest.raises(NotFound):
        cron.trigger("missing")


async def test_app_cron_holds_the_system_cleanup_jobs(app: TestApp) -> None:
    jobs = dict(listed(app.app.cron))  # type: ignore[arg-type]
    assert jobs["__pbOTPCleanup__"] == "0 * * * *"
    assert jobs["__pbMFACleanup__"] == "0 * * * *"
    assert jobs["__pbAuthSessionsCleanup__"] == "0 * * * *"
    for job_id in jobs:
        await app.app.cron.run(job_id)  # each runs against the real tables without failing


async def test_a_due_job_runs_once_per_tick_across_instances(api: Api) -> None:
    """Two schedulers on one database (two processes of a cluster): one run per tick."""
    runs: list[tuple[str, str]] = []
    instances = [Cron(api.app.db), Cron(api.app.db)]
    for name, cron in zip("ab", instances, strict=True):
        cron.add("every-minute", "* * * * *", lambda name=name: runs.append((name, "every-minute")))
        cron.add("mondays", "0 0 * * 1", lambda name=name: runs.append((name, "mondays")))
        cron.add("at-noon", "0 12 * * *", lambda name=name: runs.append((name, "at-noon")))
    await asyncio.gather(*(cron.run_due(TICK) for cron in instances))
    assert sorted(job for _, job in runs) == ["every-minute", "mondays"]
    await asyncio.gather(*(cron.run_due(TICK) for cron in instances))  # the same tick again
    assert len(runs) == 2
    await asyncio.gather(*(cron.run_due(TICK + 1) for cron in instances))
    assert sorted(job for _, job in runs) == ["every-minute", "every-minute", "mondays"]


async def test_old_claims_are_pruned(api: Api) -> None:
    cron = Cron(api.app.db)
    cron.add("every-minute", "* * * * *", lambda: None)
    table = api.app.db.quote(CLAIMS_TABLE)
    for tick in (TICK, TICK + 1, TICK + CLAIM_RETENTION + 1):
        await cron.run_due(tick)
    ticks = await api.app.db.fetch_all(f"SELECT {api.app.db.quote('tick')} AS t FROM {table} ORDER BY 1")
    assert [int(row["t"]) for row in ticks] == [TICK + 1, TICK + CLAIM_RETENTION + 1]


async def test_the_scheduler_wakes_at_the_minute_boundary_and_survives_a_failing_job(
    app: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    # a clock shifted so that the next minute boundary is a moment away
    shift = 60 - time.time() % 60 - 0.3
    cron = Cron(app.app.db, clock=lambda: time.time() + shift)
    ran = asyncio.Event()

    def failing() -> None:
        raise RuntimeError("boom")

    async def good() -> None:
        ran.set()

    cron.add("a-failing", "* * * * *", failing)
    cron.add("b-good", "* * * * *", good)
    with caplog.at_level(logging.ERROR, logger="roost.cron"):
        scheduler = asyncio.create_task(cron.serve())
        await asyncio.wait_for(ran.wait(), timeout=20)
        await asyncio.sleep(0.05)
        assert not scheduler.done()
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
    assert "cron job a-failing failed" in caplog.text
    expected_tick = int((time.time() + shift) // 60)
    claimed = await app.app.db.fetch_all(
        f"SELECT {app.app.db.quote('job')} AS j, {app.app.db.quote('tick')} AS t FROM {app.app.db.quote(CLAIMS_TABLE)}"
    )
    assert {(row["j"], int(row["t"])) for row in claimed} >= {("a-failing", expected_tick), ("b-good", expected_tick)}
