"""The embedded SQLite driver: the standard ``sqlite3`` module, driven from the event loop.

Measured on this project's benchmark, going through SQLAlchemy + aiosqlite cost a thread hop and
a greenlet switch per statement, which dominated simple requests. SQLite statements on an
indexed lookup take microseconds, so Roost runs them directly on the loop:

* one **read** connection (WAL lets it read while a write is in progress); every cursor is fully
  consumed before returning so no statement keeps a stale snapshot open;
* one **write** connection behind an ``asyncio.Lock``: writes queue inside the process and never
  fail with "database is locked". ``BEGIN IMMEDIATE`` is retried with async sleeps when another
  process holds the lock, instead of blocking the loop in ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from roost.core.db_base import DatabaseUnavailable, QueryError, Row, UniqueViolation

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
_savepoints = itertools.count()


def _open(path: str, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=512)
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _error(exc: sqlite3.Error) -> Exception:
    match = _UNIQUE.search(str(exc))
    if isinstance(exc, sqlite3.IntegrityError) and match:
        return UniqueViolation([part.strip().split(".")[-1] for part in match.group(1).split(",")])
    return QueryError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class SqliteConnection:
    """Runs statements on one ``sqlite3`` connection; parameters use ``:name`` placeholders."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self.dialect = "sqlite"
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        self.after_rollback: list[Callable[[], Awaitable[None]]] = []

    def _cursor(self, sql: str, params: Mapping[str, Any] | None) -> sqlite3.Cursor:
        try:
            return self.raw.execute(sql, params or {})
        except sqlite3.Error as exc:
            raise _error(exc) from exc

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cur = self._cursor(sql, params)
        try:
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.Error as exc:
            raise _error(exc) from exc
        finally:
            cur.close()

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        cur = self._cursor(sql, params)
        try:
            row = cur.fetchone()
            return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))
        finally:
            cur.close()

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cur = self._cursor(sql, params)
        try:
            row = cur.fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        try:
            if isinstance(params, Sequence):
                cur = self.raw.executemany(sql, params)
            else:
                cur = self.raw.execute(sql, params or {})
        except sqlite3.Error as exc:
            raise _error(exc) from exc
        count = cur.rowcount
        cur.close()
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
            self.raw.execute(f"ROLLBACK TO {name}")
            self.raw.execute(f"RELEASE {name}")
            raise
        self.raw.execute(f"RELEASE {name}")


class SqliteBackend:
    """The read connection, the serialised writer, and their lifecycle."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader: SqliteConnection | None = None
        self._writer: SqliteConnection | None = None
        self._lock = asyncio.Lock()

    async def ping(self) -> None:
        try:
            self._writer = SqliteConnection(_open(self.path, 0))
            self._reader = SqliteConnection(_open(self.path, 1000))
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

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[SqliteConnection]:
        writer = self._connections()[1]
        async with self._lock:
            await self._begin_immediate(writer.raw)
            session = SqliteConnection(writer.raw)
            try:
                yield session
            except BaseException:
                writer.raw.execute("ROLLBACK")
                raise
            try:
                writer.raw.execute("COMMIT")
            except sqlite3.Error as exc:
                writer.raw.execute("ROLLBACK")
                raise _error(exc) from exc

    async def _begin_immediate(self, raw: sqlite3.Connection) -> None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.001
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # another process holds the write lock: wait without blocking the loop
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise _error(exc) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    async def close(self) -> None:
        async with self._lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    conn.raw.close()
            self._reader = self._writer = None
