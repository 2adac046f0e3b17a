"""A small durable job queue for work that must not run on the request path.

Jobs are rows of the ``_jobs`` table in the app's own database, so they survive a restart, and a
job enqueued inside a transaction is committed or rolled back with it. Every process that serves
runs one worker (a background job of ``app.jobs``) for the kinds it registered:

* a worker *claims* a due job with an UPDATE that only one worker can win (it compares the
  attempt count it read), and holds it under a lease: if its process dies, the lease runs out
  and another worker takes the job again;
* a handler that raises is retried after an exponential backoff with jitter, up to
  ``max_attempts``; then the job is marked ``failed`` with the last error. A handler that
  raises :class:`PermanentFailure` fails the job at once;
* a handler runs at most ``timeout`` seconds (the lease is longer), so a job never outlives it;
* a local enqueue wakes the worker at once; otherwise it polls every ``poll_interval`` seconds;
* finished rows are pruned after ``keep_done`` seconds, failed ones after ``keep_failed``.

Usage::

    async def resize(payload: dict) -> None: ...

    app.queue.register("thumbs.resize", resize, max_attempts=5, backoff=2.0)
    job_id = await app.queue.enqueue("thumbs.resize", {"file": "a.png"})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from roost.core.db.facade import Connection, Database
from roost.tools.metrics import Metrics, NullMetrics

log = logging.getLogger("roost.queue")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Backoff = float | Callable[[int], float]

TABLE = "_jobs"
#: how a run ended, as the job-run metric names it
_OUTCOMES = {"done": "success", "failed": "failure", "pending": "retry"}
_DDL = (
    'CREATE TABLE IF NOT EXISTS "_jobs" ("id" VARCHAR(32) PRIMARY KEY NOT NULL, "kind" VARCHAR(255) NOT NULL, '
    '"payload" TEXT NOT NULL, "status" VARCHAR(16) NOT NULL, "attempts" INTEGER NOT NULL, '
    '"maxAttempts" INTEGER NOT NULL, "runAt" BIGINT NOT NULL, "lockedUntil" BIGINT NOT NULL, '
    '"lockedBy" VARCHAR(64) NOT NULL, "lastError" TEXT NOT NULL, "created" BIGINT NOT NULL, "updated" BIGINT NOT NULL)',
    'CREATE INDEX IF NOT EXISTS "idx__jobs_status_runAt" ON "_jobs" ("status", "runAt")',
)
#: a job this worker may take: due, or held by a worker whose lease ran out
_DUE = '(("status" = \'pending\' AND "runAt" <= :now) OR ("status" = \'running\' AND "lockedUntil" <= :now))'
#: the job is still the one this worker claimed
_HELD = '"id" = :id AND "status" = \'running\' AND "lockedBy" = :me AND "attempts" = :attempts'
_MAX_ERROR = 2000


async def create_table(conn: Connection) -> None:
    """Create ``_jobs`` and its index if they are missing (run at bootstrap)."""
    for sql in _DDL:
        await conn.execute(sql.replace('"', "`") if conn.dialect == "mysql" else sql)


class PermanentFailure(Exception):
    """Raised by a handler: fail the job now, with this message, without further attempts."""


@dataclass(frozen=True)
class JobInfo:
    """The job a handler is running (:func:`current_job`)."""

    id: str
    kind: str
    #: 1 for the first run
    attempt: int
    max_attempts: int


_current: ContextVar[JobInfo | None] = ContextVar("roost_current_job", default=None)


def current_job() -> JobInfo | None:
    """The job the calling handler runs, or None outside a job."""
    return _current.get()


@dataclass(frozen=True)
class _Kind:
    handler: Handler
    max_attempts: int
    backoff: Backoff
    timeout: float

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the run after failed attempt ``attempt`` (1-based)."""
        if callable(self.backoff):
            return max(0.0, float(self.backoff(attempt)))
        return min(self.backoff * 2.0 ** (attempt - 1), 3600.0) * random.uniform(0.8, 1.2)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Queue:
    """The app's job queue (``app.queue``)."""

    def __init__(
        self, db: Database, *, concurrency: int = 4, poll_interval: float = 1.0, metrics: Metrics | None = None
    ) -> None:
        self.db = db
        self.metrics = metrics or NullMetrics()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        #: extra lease time past a handler's timeout before another worker may take its job
        self.lease_margin = 30.0
        self.keep_done = 86400.0
        self.keep_failed = 7 * 86400.0
        self.worker_id = secrets.token_hex(8)
        self._kinds: dict[str, _Kind] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._next_due = float("inf")

    # ----- the public API ---------------------------------------------------------------------
    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        max_attempts: int = 5,
        backoff: Backoff = 2.0,
        timeout: float = 60.0,
    ) -> None:
        """Run ``handler(payload)`` for jobs of ``kind`` (registering a kind again replaces it).

        Args:
            max_attempts: runs before the job is marked failed (1 = no retry).
            backoff: seconds before the first retry, doubled for each later one (with +-20 %
                jitter, at most an hour), or a function of the failed attempt number.
            timeout: seconds a run may take; a run still going then is cancelled and failed.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._kinds[kind] = _Kind(handler, max_attempts, backoff, timeout)
        self._wake.set()

    async def enqueue(self, kind: str, payload: dict[str, Any], *, delay: float = 0.0) -> str:
        """Store a job; it runs once committed (inside a transaction, with that transaction).

        Returns the job id. Raises ``ValueError`` for a kind nobody registered or a payload
        that is not JSON.
        """
        spec = self._kinds.get(kind)
        if spec is None:
            raise ValueError(f"no handler is registered for job kind {kind!r}")
        try:
            data = orjson.dumps(payload).decode()
        except TypeError as exc:
            raise ValueError(f"the payload of a {kind!r} job must be JSON: {exc}") from exc
        job_id, now = secrets.token_hex(10), _now_ms()
        run_at = now + int(max(delay, 0.0) * 1000)
        async with self.db.transaction() as conn:
            await conn.execute(
                'INSERT INTO "_jobs" ("id", "kind", "payload", "status", "attempts", "maxAttempts", "runAt", '
                '"lockedUntil", "lockedBy", "lastError", "created", "updated") VALUES (:id, :kind, :payload, '
                "'pending', 0, :max, :run, 0, '', '', :now, :now)".replace(
                    '"', "`" if conn.dialect == "mysql" else '"'
                ),
                {
                    "id": job_id,
                    "kind": kind,
                    "payload": data,
                    "max": spec.max_attempts,
                    "run": run_at,
                    "now": now,
                },
            )
        await self.db.after_commit(lambda: self._due_at(run_at / 1000))
        return job_id

    async def get(self, job_id: str) -> dict[str, Any] | None:
        """A job's row (``status`` is pending, running, done or failed), or None once pruned."""
        row = await self.db.fetch_one(
            self._sql('SELECT * FROM "_jobs" WHERE "id" = :id'), {"id": job_id}
        )
        if row is None:
            return None
        return {**row, "payload": orjson.loads(row["payload"])}

    async def prune(self) -> int:
        """Delete finished jobs older than ``keep_done`` and failed ones older than ``keep_failed``."""
        now = _now_ms()
        async with self.db.transaction() as conn:
            return await conn.execute(
                self._sql(
                    'DELETE FROM "_jobs" WHERE ("status" = \'done\' AND "updated" < :done) '
                    'OR ("status" = \'failed\' AND "updated" < :failed)'
                ),
                {
                    "done": now - int(self.keep_done * 1000),
                    "failed": now - int(self.keep_failed * 1000),
                },
            )

    # ----- the worker ---------------------------------------------------------------------------
    async def run(self) -> None:
        """The worker: claim due jobs and run them until cancelled (``app.jobs`` runs it)."""
        next_prune = 0.0
        try:
            while True:
                try:
                    if time.time() >= next_prune:
                        await self.prune()
                        next_prune = time.time() + 600
                    free = self.concurrency - len(self._running)
                    claimed = await self._claim(free) if free > 0 and self._kinds else []
                except Exception:
                    log.exception("the job queue could not claim jobs; trying again")
                    claimed, free = [], 0
                for job in claimed:
                    self._start(job)
                if not claimed or len(claimed) < free:
                    await self._sleep()
        finally:
            await self._stop_running()

    async def _due_at(self, when: float) -> None:
        self._next_due = min(self._next_due, when)
        self._wake.set()

    async def _sleep(self) -> None:
        wait = min(self.poll_interval, max(self._next_due - time.time(), 0.0))
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose the cancellation that stops the worker
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()
        self._wake.clear()
        if self._next_due <= time.time():
            self._next_due = float("inf")

    async def _claim(self, limit: int) -> list[dict[str, Any]]:
        now = _now_ms()
        kinds = list(self._kinds)
        params: dict[str, Any] = {"now": now, **{f"k{i}": kind for i, kind in enumerate(kinds)}}
        in_kinds = ", ".join(f":k{i}" for i in range(len(kinds)))
        rows = await self.db.fetch_all(
            self._sql(
                f'SELECT "id", "kind", "payload", "attempts", "maxAttempts", "status" FROM "_jobs" '
                f'WHERE "kind" IN ({in_kinds}) AND {_DUE} ORDER BY "runAt" LIMIT {int(limit)}'
            ),
            params,
        )
        claimed = []
        for row in rows:
            job = dict(row)
            if await self._take(job, now):
                claimed.append(job)
        return claimed

    async def _take(self, job: dict[str, Any], now: int) -> bool:
        """Win ``job`` for this worker; a job whose dead worker used its last attempt fails instead."""
        params = {"id": job["id"], "attempts": job["attempts"], "now": now, "me": self.worker_id}
        exhausted = job["attempts"] >= job["maxAttempts"]
        if exhausted:
            sql = 'UPDATE "_jobs" SET "status" = \'failed\', "lastError" = :error, "lockedBy" = \'\', "updated" = :now'
            params["error"] = (
                "the worker running the last attempt stopped before it finished (lease expired)"
            )
        else:
            spec = self._kinds[job["kind"]]
            sql = ('UPDATE "_jobs" SET "status" = \'running\', "attempts" = "attempts" + 1, "lockedBy" = :me, '
                   '"lockedUntil" = :until, "updated" = :now')  # fmt: skip
            params["until"] = now + int((spec.timeout + self.lease_margin) * 1000)
        async with self.db.transaction() as conn:
            won = await conn.execute(
                self._sql(f'{sql} WHERE "id" = :id AND "attempts" = :attempts AND {_DUE}'), params
            )
        if won and not exhausted:
            job["attempts"] += 1
            return True
        return False

    def _start(self, job: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(
            self._execute(job), name=f"roost job {job['kind']} {job['id']}"
        )
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _execute(self, job: dict[str, Any]) -> None:
        spec = self._kinds[job["kind"]]
        info = JobInfo(job["id"], job["kind"], job["attempts"], job["maxAttempts"])
        token = _current.set(info)
        job["started"] = time.monotonic()
        try:
            async with asyncio.timeout(spec.timeout):
                await spec.handler(orjson.loads(job["payload"]))
        except asyncio.CancelledError:
            await self._settle(job, "release")
            raise
        except PermanentFailure as exc:
            await self._settle(job, "failed", str(exc) or "failed")
        except TimeoutError:
            await self._settle_failure(
                job, spec, f"the job ran longer than its {spec.timeout:g}s timeout"
            )
        except Exception as exc:
            log.info(
                "job %s (%s) attempt %d failed: %r", job["id"], job["kind"], job["attempts"], exc
            )
            await self._settle_failure(job, spec, f"{type(exc).__name__}: {exc}")
        else:
            await self._settle(job, "done")
        finally:
            _current.reset(token)

    async def _settle_failure(self, job: dict[str, Any], spec: _Kind, error: str) -> None:
        if job["attempts"] >= job["maxAttempts"]:
            await self._settle(job, "failed", error)
        else:
            await self._settle(
                job, "pending", error, run_at=time.time() + spec.delay(job["attempts"])
            )

    async def _settle(
        self, job: dict[str, Any], status: str, error: str = "", *, run_at: float = 0.0
    ) -> None:
        """Record how a run ended, if this worker still holds the job."""
        if status in _OUTCOMES:
            self.metrics.job_finished("queue", job["kind"], _OUTCOMES[status], time.monotonic() - job["started"])
        sets = '"status" = :status, "lastError" = :error, "lockedBy" = \'\', "lockedUntil" = 0, "updated" = :now'
        params = {"id": job["id"], "me": self.worker_id, "attempts": job["attempts"], "now": _now_ms(),
                  "status": status, "error": error[:_MAX_ERROR]}  # fmt: skip
        if status == "release":  # the process is stopping: the run did not count
            sets = '"status" = \'pending\', "attempts" = "attempts" - 1, "lockedBy" = \'\', "lockedUntil" = 0, "updated" = :now, "runAt" = :now'
            del params["status"], params["error"]
        elif status == "pending":
            sets += ', "runAt" = :run'
            params["run"] = int(run_at * 1000)
        try:
            async with self.db.transaction() as conn:
                await conn.execute(self._sql(f'UPDATE "_jobs" SET {sets} WHERE {_HELD}'), params)
        except Exception:
            log.exception("could not record the end of job %s; its lease will expire", job["id"])
        if status == "pending":
            await self._due_at(run_at)

    async def _stop_running(self) -> None:
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _sql(self, sql: str) -> str:
        return sql.replace('"', "`") if self.db.dialect == "mysql" else sql
