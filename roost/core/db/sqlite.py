"""The embedded SQLite driver: the standard ``sqlite3`` module, driven from the event loop.

Measured on this project's benchmark, going through SQLAlchemy + aiosqlite cost a thread hop and
a greenlet switch per statement, which dominated simple requests. SQLite statements on an
indexed lookup take microseconds, so Roost runs them directly on the loop:

* one **read** connection (WAL lets it read while a write is in progress); every cursor is fully
  consumed before returning so no statement keeps a stale snapshot open. A read that holds the
  loop past a few milliseconds is interrupted and re-run in a worker thread
  (:mod:`roost.core.db.sqlite_pool`), so one heavy filter cannot stall every other request;
* every read and write statement stops at the query timeout (a 400, ``QueryTimeout``);
* one **write** connection behind an ``asyncio.Lock``: writes queue inside the process and never
  fail with "database is locked". ``BEGIN IMMEDIATE`` is retried with async sleeps when another
  process holds the lock, instead of blocking the loop in ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from roost.core.db.base import DatabaseUnavailable, QueryError, QueryTimeout, Row, UniqueViolation
from roost.core.db.sqlite_pool import (
    LOOP_CHECK_STEPS,
    ON_LOOP_BUDGET,
    Deadline,
    Mode,
    ReadPool,
    consume,
    interrupted,
)
from roost.tools.metrics import Metrics, NullMetrics

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA journal_size_limit = 200000000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32000",
)
_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")
LOCK_WAIT_SECONDS = 10.0
#: retries of ``BEGIN IMMEDIATE`` while another process writes: the first after 0.1 ms, then
#: 1.5 times longer each, at most 2 ms apart. A write holds the lock for a fraction of a
#: millisecond, so the old 1 to 50 ms backoff left a worker asleep long after the lock was free
#: (two workers made 1,900 to 2,400 creates/s; with these, 3,000 to 3,400). Only the task holding
#: its process's writer lock retries, so a long transaction elsewhere costs one try per 2 ms.
LOCK_RETRY_FIRST, LOCK_RETRY_GROWTH, LOCK_RETRY_MAX = 0.0001, 1.5, 0.002
_savepoints = itertools.count()


def _open(path: str, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=512)
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _open_timed(path: str, busy_ms: int) -> tuple[sqlite3.Connection, Deadline]:
    conn = _open(path, busy_ms)
    deadline = Deadline()
    conn.set_progress_handler(deadline, LOOP_CHECK_STEPS)
    return conn, deadline


class _Slow(Exception):
    """A read ran past the on-loop budget; it goes on in a worker until ``deadline``."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline


def _error(exc: sqlite3.Error) -> Exception:
    match = _UNIQUE.search(str(exc))
    if isinstance(exc, sqlite3.IntegrityError) and match:
        return UniqueViolation([part.strip().split(".")[-1] for part in match.group(1).split(",")])
    return QueryError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class SqliteConnection:
    """Runs statements on one ``sqlite3`` connection; parameters use ``:name`` placeholders.

    Every read and write statement runs under ``deadline`` (the connection's progress handler):
    the query timeout, or on the shared read connection the on-loop budget, past which the read
    moves to ``pool`` (a worker thread) for the rest of the query timeout.
    """

    def __init__(
        self, raw: sqlite3.Connection, deadline: Deadline, *, timeout: float = 0.0, pool: ReadPool | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.raw = raw
        self._metrics = metrics or NullMetrics()
        self.dialect = "sqlite"
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        self.after_rollback: list[Callable[[], Awaitable[None]]] = []
        self._deadline = deadline
        self._timeout = timeout or math.inf
        self._pool = pool
        self._budget = min(ON_LOOP_BUDGET, self._timeout) if pool is not None else self._timeout

    def _now(self, sql: str, params: Mapping[str, Any] | None, mode: Mode) -> Any:
        """The read, on the loop; ``_Slow`` when it ran past the on-loop budget."""
        deadline = self._deadline
        started = time.monotonic()
        deadline.at = started + self._budget
        try:
            return consume(self.raw, sql, params, mode)
        except sqlite3.Error as exc:
            if not interrupted(exc):
                raise _error(exc) from exc
            if self._pool is None or self._budget >= self._timeout:
                raise QueryTimeout() from None
            raise _Slow(started + self._timeout) from None
        finally:
            deadline.at = math.inf

    async def _read(self, sql: str, params: Mapping[str, Any] | None, mode: Mode) -> Any:
        started = time.perf_counter()
        try:
            result = self._now(sql, params, mode)
        except _Slow as slow:
            assert self._pool is not None
            try:
                result = await self._pool.run(sql, params, mode, slow.deadline)
            except sqlite3.Error as exc:
                raise (QueryTimeout() if interrupted(exc) else _error(exc)) from None
        self._metrics.query_finished(time.perf_counter() - started)
        return result

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        rows: list[Row] = await self._read(sql, params, "all")
        return rows

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        row: Row | None = await self._read(sql, params, "one")
        return row

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._read(sql, params, "value")

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        started = time.perf_counter()
        try:
            if isinstance(params, Sequence):
                cur = self.raw.executemany(sql, params)
            else:
                # an interrupted write rolls back its whole transaction; begin() copes with that
                self._deadline.at = time.monotonic() + self._timeout
                cur = self.raw.execute(sql, params or {})
        except sqlite3.Error as exc:
            raise (QueryTimeout() if interrupted(exc) else _error(exc)) from exc
        finally:
            self._deadline.at = math.inf
        count = cur.rowcount
        cur.close()
        self._metrics.query_finished(time.perf_counter() - started)
        return max(count, 0)

    async def execute_ddl(self, sql: str) -> None:
        try:
            self.raw.execute(sql).close()
        except sqlite3.Error as exc:
            raise _error(exc) from exc

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        name = f"sp_{next(_savepoints)}"
        self.raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self.raw.in_transaction:  # not when an interrupted write already rolled it all back
                self.raw.execute(f"ROLLBACK TO {name}")
                self.raw.execute(f"RELEASE {name}")
            raise
        self.raw.execute(f"RELEASE {name}")


class SqliteBackend:
    """The read connection, the serialised writer, and their lifecycle."""

    dialect = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        query_timeout: float = 0.0,
        connection_class: Callable[[], type[SqliteConnection]] = lambda: SqliteConnection,
        metrics: Metrics | None = None,
    ) -> None:
        self.path = path
        #: picks the connection class when the database opens (a traced one while tracing is on)
        self._connection_class = connection_class
        self._metrics = metrics or NullMetrics()
        self.query_timeout = query_timeout
        self._reader: SqliteConnection | None = None
        self._writer: SqliteConnection | None = None
        self._lock = asyncio.Lock()
        self._pool = ReadPool(lambda: _open(path, 1000))

    async def ping(self) -> None:
        connection = self._connection_class()
        try:
            self._writer = connection(*_open_timed(self.path, 0), timeout=self.query_timeout)
            self._reader = connection(
                *_open_timed(self.path, 1000), timeout=self.query_timeout, pool=self._pool, metrics=self._metrics
            )
            self._reader.raw.execute("SELECT 1").close()
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"Cannot open the database: {exc}") from exc

    def _connections(self) -> tuple[SqliteConnection, SqliteConnection]:
        if self._reader is None or self._writer is None:
            raise DatabaseUnavailable("The database is not open.")
        return self._reader, self._writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConnection]:
        yield self._connections()[0]

    def shared_reader(self) -> SqliteConnection:
        """The read connection every reader shares: what :meth:`read` yields, without the
        context manager (``Database`` reads through it directly)."""
        return self._connections()[0]

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[SqliteConnection]:
        writer = self._connections()[1]
        async with self._lock:
            await self._begin_immediate(writer.raw)
            session = type(writer)(writer.raw, writer._deadline, timeout=self.query_timeout, metrics=self._metrics)
            try:
                yield session
            except BaseException:
                if writer.raw.in_transaction:
                    writer.raw.execute("ROLLBACK")
                raise
            try:
                writer.raw.execute("COMMIT")
            except sqlite3.Error as exc:
                writer.raw.execute("ROLLBACK")
                raise _error(exc) from exc

    async def _begin_immediate(self, raw: sqlite3.Connection) -> None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = LOCK_RETRY_FIRST
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # another process holds the write lock: wait without blocking the loop
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise _error(exc) from exc
                await asyncio.sleep(delay)
                delay = min(delay * LOCK_RETRY_GROWTH, LOCK_RETRY_MAX)

    async def close(self) -> None:
        async with self._lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    conn.raw.close()
            self._reader = self._writer = None
            self._pool.close()
