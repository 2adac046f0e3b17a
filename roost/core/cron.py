"""Cron jobs: functions run on a schedule (``app.cron``), once per tick across a cluster.

Hook files, plugins and Roost itself register jobs with ``app.cron.add(id, expression, func)``.
The scheduler is one background job of ``app.jobs``: it starts when the app serves, wakes at
every minute boundary (UTC) and starts each job that is due. Before a job runs, its instance
claims the tick by inserting ``(job, tick)`` into ``_cronClaims``, whose primary key lets only
one insert succeed, so with several instances (or ``--workers``) sharing a database the job runs
once per tick. A failing job is logged; it never stops the scheduler or the other jobs.

System jobs have ids starting with ``__pb`` (``__pbOTPCleanup__``) and are listed last, as the
dashboard expects.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from roost.core.db.base import UniqueViolation
from roost.core.db.facade import Database
from roost.core.errors import NotFound
from roost.tools.cron import Schedule, parse
from roost.tools.metrics import Metrics, NullMetrics

CronFunc = Callable[[], Awaitable[None] | None]
log = logging.getLogger("roost.cron")
#: ids of the system jobs start with this; they are listed after the others
SYSTEM_PREFIX = "__pb"
CLAIMS_TABLE = "_cronClaims"
#: claims older than this many minutes are deleted
CLAIM_RETENTION = 60


@dataclass(frozen=True)
class CronJob:
    """One registered job."""

    id: str
    schedule: Schedule
    func: CronFunc

    @property
    def expression(self) -> str:
        """The schedule's five fields (a macro comes back expanded, as PocketBase lists it)."""
        return self.schedule.expression


async def create_claims_table(db: Database) -> None:
    """Create the claims table if it is missing (run at bootstrap)."""
    table, job, tick = db.quote(CLAIMS_TABLE), db.quote("job"), db.quote("tick")
    async with db.transaction() as conn:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({job} VARCHAR(255) NOT NULL, "
            f"{tick} BIGINT NOT NULL, PRIMARY KEY ({job}, {tick}))"
        )


class Cron:
    """The app's cron jobs by id, and the scheduler that runs them."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, *, metrics: Metrics | None = None) -> None:
        self._db = db
        self._metrics = metrics or NullMetrics()
        self._clock = clock
        self._jobs: dict[str, CronJob] = {}
        self._running: set[asyncio.Task[None]] = set()

    def add(self, job_id: str, expression: str, func: CronFunc) -> None:
        """Register ``func`` to run on ``expression`` (see :mod:`roost.tools.cron`), replacing
        the job with the same id; raises :class:`~roost.tools.cron.CronError` when invalid."""
        if not job_id:
            raise ValueError("a cron job needs a non-empty id")
        if not callable(func):
            raise TypeError(f"cron job {job_id!r}: func must be callable")
        schedule = parse(expression)
        self._jobs.pop(job_id, None)
        self._jobs[job_id] = CronJob(job_id, schedule, func)

    def remove(self, job_id: str) -> None:
        """Unregister a job; an unknown id is ignored."""
        self._jobs.pop(job_id, None)

    def jobs(self) -> list[CronJob]:
        """Every job: the others sorted by id, then the system jobs in registration order."""
        return sorted(self._jobs.values(), key=_listing_order)

    def get(self, job_id: str) -> CronJob:
        """The job with this id; raises NotFound."""
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("Missing or invalid cron job.")
        return job

    async def run(self, job_id: str) -> None:
        """Run a job now in this process and wait for it; a failure is logged, not raised."""
        await _call(self.get(job_id), self._metrics)

    def trigger(self, job_id: str) -> None:
        """Start a job now in the background (``POST /api/crons/{id}``); raises NotFound."""
        self._spawn(self.get(job_id))

    async def run_due(self, tick: int) -> None:
        """Run every job due at ``tick`` (minutes since the epoch) whose claim this process
        wins, and wait for them."""
        moment = datetime.fromtimestamp(tick * 60, UTC)
        due = [job for job in self._jobs.values() if job.schedule.is_due(moment)]
        if not due:
            return
        won = await asyncio.gather(*(self._claim(job.id, tick) for job in due))
        await asyncio.gather(*(self._spawn(job) for job, mine in zip(due, won, strict=True) if mine))
        if any(won):
            await self._prune(tick - CLAIM_RETENTION)

    async def serve(self) -> None:
        """The scheduler (an ``app.jobs`` job): one tick at each minute boundary until cancelled."""
        try:
            while True:
                tick = int(self._clock() // 60) + 1
                while (delay := tick * 60 - self._clock()) > 0:
                    await asyncio.sleep(delay)
                # a tick runs in its own task, so a slow claim never delays the next boundary
                self._spawn_tick(tick)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Cancel the runs still going and wait for them to end."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim(self, job_id: str, tick: int) -> bool:
        q = self._db.quote
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO {q(CLAIMS_TABLE)} ({q('job')}, {q('tick')}) VALUES (:j, :t)",
                    {"j": job_id, "t": tick},
                )
        except UniqueViolation:
            return False
        except Exception:
            log.exception("cron job %s: the claim of tick %d failed, skipped", job_id, tick)
            return False
        return True

    async def _prune(self, before: int) -> None:
        q = self._db.quote
        try:
            async with self._db.transaction() as conn:
                await conn.execute(f"DELETE FROM {q(CLAIMS_TABLE)} WHERE {q('tick')} < :t", {"t": before})
        except Exception:
            log.exception("pruning old cron claims failed")

    def _spawn(self, job: CronJob) -> asyncio.Task[None]:
        return self._track(_call(job, self._metrics), f"roost cron {job.id}")

    def _spawn_tick(self, tick: int) -> None:
        self._track(self.run_due(tick), f"roost cron tick {tick}")

    def _track(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        # a fresh context: a run must not join the transaction of whoever started it
        task = asyncio.get_running_loop().create_task(
            _as_coroutine(coro), name=name, context=contextvars.Context()
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _call(job: CronJob, metrics: Metrics) -> None:
    started = time.monotonic()
    try:
        result = job.func()
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("cron job %s failed", job.id)
        metrics.job_finished("cron", job.id, "failure", time.monotonic() - started)
    else:
        metrics.job_finished("cron", job.id, "success", time.monotonic() - started)


def _listing_order(job: CronJob) -> tuple[bool, str]:
    # the system jobs keep their registration order (a stable sort on an equal key)
    system = job.id.startswith(SYSTEM_PREFIX)
    return system, "" if system else job.id


__all__ = ["CLAIMS_TABLE", "Cron", "CronFunc", "CronJob", "create_claims_table"]
