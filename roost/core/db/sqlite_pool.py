"""Slow SQLite reads, moved off the event loop, and the query deadline that stops them.

Most statements take microseconds, so :mod:`roost.core.db.sqlite` runs them on the loop. A
:class:`Deadline` progress handler interrupts a read that runs past a small on-loop budget; the
read then starts again here, in a worker thread on a connection of its own, where it may run
until the query timeout. The loop keeps serving other requests meanwhile (``sqlite3`` releases
the GIL while a statement steps). Cancelling the awaiting task (the client went away) stops the
statement at once.
"""

from __future__ import annotations

import asyncio
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

#: how long a read may hold the event loop before it is moved to a worker thread
ON_LOOP_BUDGET = 0.015
#: VM instructions between two deadline checks on the loop (a few µs of work: no visible cost)
LOOP_CHECK_STEPS = 1000
#: between two checks in a worker: each check takes the GIL, so rarely (about every 10-50 ms)
THREAD_CHECK_STEPS = 500_000
#: worker threads, each with its own read connection, for reads past the on-loop budget
READ_THREADS = 4

Mode = Literal["all", "one", "value"]


class Deadline:
    """A progress handler that interrupts the running statement once ``at`` (monotonic) has passed."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = math.inf

    def __call__(self) -> int:
        return 1 if time.monotonic() > self.at else 0


def interrupted(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT


def consume(raw: sqlite3.Connection, sql: str, params: Mapping[str, Any] | None, mode: Mode) -> Any:
    """Run ``sql`` and read its whole result, so no statement keeps a snapshot open."""
    cur = raw.execute(sql, params or {})
    try:
        if mode == "all":
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        row = cur.fetchone()
        if row is None:
            return None
        return row[0] if mode == "value" else dict(zip([d[0] for d in cur.description], row, strict=True))
    finally:
        cur.close()


class _Job:
    """One read in a worker; ``stop`` interrupts it from the loop, whether it started or not."""

    def __init__(self, sql: str, params: Mapping[str, Any] | None, mode: Mode, deadline: float) -> None:
        self.sql, self.params, self.mode, self.deadline = sql, params, mode, deadline
        self.lock = threading.Lock()
        self.stopped = False
        self.running: tuple[sqlite3.Connection, Deadline] | None = None

    def run(self, pool: ReadPool) -> Any:
        raw, deadline = pool.take()
        try:
            with self.lock:
                if self.stopped:
                    return None
                deadline.at = self.deadline
                self.running = (raw, deadline)
            try:
                return consume(raw, self.sql, self.params, self.mode)
            finally:
                with self.lock:
                    self.running = None
                    deadline.at = math.inf
        finally:
            pool.give_back(raw, deadline)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.running is not None:
                raw, deadline = self.running
                deadline.at = -math.inf  # caught by the next check even if interrupt() lands early
                raw.interrupt()


class ReadPool:
    """Worker threads and their read connections, opened on first use."""

    def __init__(self, opener: Callable[[], sqlite3.Connection], size: int = READ_THREADS) -> None:
        self._opener = opener
        self._size = size
        self._idle: queue.SimpleQueue[tuple[sqlite3.Connection, Deadline]] = queue.SimpleQueue()
        self._opened: list[sqlite3.Connection] = []
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, sql: str, params: Mapping[str, Any] | None, mode: Mode, deadline: float) -> Any:
        """Run a read in a worker; raises ``sqlite3.Error`` (``interrupted`` past ``deadline``)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._size, thread_name_prefix="roost-sqlite-read")
        job = _Job(sql, params, mode, deadline)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job.run, self)
        except asyncio.CancelledError:
            job.stop()
            raise

    def take(self) -> tuple[sqlite3.Connection, Deadline]:
        # at most ``size`` jobs run at once, so at most ``size`` connections are ever opened
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            raw = self._opener()
            deadline = Deadline()
            raw.set_progress_handler(deadline, THREAD_CHECK_STEPS)
            self._opened.append(raw)
            return raw, deadline

    def give_back(self, raw: sqlite3.Connection, deadline: Deadline) -> None:
        self._idle.put((raw, deadline))

    def close(self) -> None:
        for raw in list(self._opened):
            raw.interrupt()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        for raw in self._opened:
            raw.close()
        self._opened.clear()
        self._idle = queue.SimpleQueue()
