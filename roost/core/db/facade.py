"""Database access for core: one facade over two drivers, plus the dialect quirks core needs.

* SQLite (the embedded default) uses :mod:`roost.core.db.sqlite`: the ``sqlite3`` module on the
  event loop, one reader, one serialised writer.
* PostgreSQL uses :mod:`roost.core.db.postgres`: an asyncpg pool, prepared statements, reads
  in autocommit.
* MySQL/MariaDB (and any other SQLAlchemy URL) uses :mod:`roost.core.db.alchemy`.

Both hand out connections with the same methods (``fetch_all``, ``fetch_one``, ``fetch_value``,
``execute``, ``execute_ddl``, ``savepoint``); SQL uses ``:name`` placeholders and user values are
always bound parameters. Reads inside a transaction use that transaction's connection, so a batch
sees its own writes; nested ``transaction()`` calls join the outer one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from roost.core.db.base import DatabaseUnavailable, QueryError, QueryTimeout, Row, UniqueViolation
from roost.tools import tracing
from roost.tools.metrics import Metrics, NullMetrics

__all__ = [
    "Connection",
    "Database",
    "DatabaseUnavailable",
    "QueryError",
    "QueryTimeout",
    "Row",
    "UniqueViolation",
    "json_array_contains",
    "quote_ident",
]


class Connection(Protocol):
    """What core may do with a connection, whatever the driver."""

    dialect: str
    after_commit: list[Callable[[], Awaitable[None]]]
    after_rollback: list[Callable[[], Awaitable[None]]]

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None: ...

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int: ...

    async def execute_ddl(self, sql: str) -> None: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


class _Backend(Protocol):
    async def ping(self) -> None: ...

    def read(self) -> AbstractAsyncContextManager[Connection]: ...

    def begin(self) -> AbstractAsyncContextManager[Any]: ...

    async def close(self) -> None: ...


_current_tx: ContextVar[Connection | None] = ContextVar("roost_current_tx", default=None)


class Database:
    """The app's database, whatever the driver."""

    def __init__(self, url: str, *, schema: str = "", pool_size: int = 10, query_timeout: float = 0.0,
                 trace_sql: bool = False, metrics: Metrics | None = None) -> None:  # fmt: skip
        """``trace_sql`` logs every statement with its timing on ``roost.sql`` (``--dev``);
        ``metrics`` times queries and watches the pool for Prometheus."""
        self.url = url
        metrics = metrics or NullMetrics()
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        self._backend: _Backend
        if self.dialect == "sqlite":
            from roost.core.db.sqlite import SqliteBackend

            self._backend = SqliteBackend(
                url.split(":///", 1)[1], query_timeout=query_timeout, metrics=metrics,
                connection_class=lambda: _sqlite_connection(trace_sql),
            )  # fmt: skip
        elif self.dialect == "postgresql":
            from roost.core.db.postgres import PgBackend

            self._backend = PgBackend(
                url, schema=schema, pool_size=pool_size, query_timeout=query_timeout,
                connection_class=_pg_connection, trace_sql=trace_sql, metrics=metrics,
            )  # fmt: skip
        else:
            from roost.core.db.alchemy import AlchemyBackend

            self._backend = AlchemyBackend(
                url, self.dialect, schema=schema, pool_size=pool_size, query_timeout=query_timeout,
                trace_sql=trace_sql, metrics=metrics,
            )  # fmt: skip
        self._shared_reader: Callable[[], Connection] | None = getattr(self._backend, "shared_reader", None)
        #: one read statement on a pooled connection, without read()'s context managers (PostgreSQL's)
        self._read_one: Callable[[str, str, Mapping[str, Any] | None], Awaitable[Any]] | None = getattr(self._backend, "read_one", None)

    async def ping(self) -> None:
        """Open the database once, turning driver failures into one clear error."""
        await self._backend.ping()

    async def check(self) -> None:
        """One round trip on a pooled connection (the health check).

        Raises:
            DatabaseUnavailable: the database cannot be reached now.
        """
        await self.fetch_value("SELECT 1")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read connection; inside a transaction, that transaction's connection."""
        current = _current_tx.get()
        if current is not None:
            yield current
            return
        async with self._backend.read() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self, *, one_statement: bool = False) -> AsyncIterator[Connection]:
        """A write transaction. Nested calls in the same task join the outer one (batch requests).

        ``one_statement``: the caller runs exactly one statement, which the backend may then run
        as a transaction of its own, without ``BEGIN`` and ``COMMIT`` (PostgreSQL, where each is a
        round trip); a second statement raises. Inside an outer transaction it joins that one as
        usual."""
        current = _current_tx.get()
        if current is not None:
            yield current
            return
        rolled_back: list[Callable[[], Awaitable[None]]] = []
        begin_one = getattr(self._backend, "begin_one", None) if one_statement else None
        try:
            async with (begin_one or self._backend.begin)() as conn:
                rolled_back = conn.after_rollback
                token = _current_tx.set(conn)
                try:
                    yield conn
                finally:
                    _current_tx.reset(token)
        except BaseException:
            for undo in rolled_back:
                await undo()
            raise
        for callback in conn.after_commit:
            await callback()

    async def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` now, or after the commit of the transaction this task is inside."""
        current = _current_tx.get()
        if current is None:
            await callback()
        else:
            current.after_commit.append(callback)

    def after_rollback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` if the transaction this task is inside rolls back (nothing outside one)."""
        current = _current_tx.get()
        if current is not None:
            current.after_rollback.append(callback)

    def _ready_reader(self) -> Connection | None:
        """What a read can run on without read()'s two context managers (an async generator
        each, which asyncio also registers): this task's transaction, or the backend's one
        shared read connection (SQLite's); None when a connection must be checked out."""
        current = _current_tx.get()
        if current is None and self._shared_reader is not None:
            return self._shared_reader()
        return current

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        ready = self._ready_reader()
        if ready is not None:
            return await ready.fetch_all(sql, params)
        if self._read_one is not None:
            rows: list[Row] = await self._read_one("fetch_all", sql, params)
            return rows
        async with self._backend.read() as conn:
            return await conn.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        ready = self._ready_reader()
        if ready is not None:
            return await ready.fetch_one(sql, params)
        if self._read_one is not None:
            row: Row | None = await self._read_one("fetch_one", sql, params)
            return row
        async with self._backend.read() as conn:
            return await conn.fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        ready = self._ready_reader()
        if ready is not None:
            return await ready.fetch_value(sql, params)
        if self._read_one is not None:
            return await self._read_one("fetch_value", sql, params)
        async with self._backend.read() as conn:
            return await conn.fetch_value(sql, params)

    def quote(self, name: str) -> str:
        return quote_ident(name, self.dialect)

    async def close(self) -> None:
        await self._backend.close()


def _sqlite_connection(log_sql: bool = False) -> type[Any]:
    """The SQLite connection class, with a span per statement while tracing is on (decided when
    the database opens, so an app built before tracing was configured is traced too), logging
    each statement with ``log_sql`` (``--dev``)."""
    from roost.core.db.sqlite import SqliteConnection

    base: type[Any] = SqliteConnection
    if tracing.active:
        from roost.core.db.traced_sqlite import TracedSqliteConnection

        base = TracedSqliteConnection
    if not log_sql:
        return base
    from roost.core.db.sql_log import LoggedSqliteConnection

    return LoggedSqliteConnection if base is SqliteConnection else type("LoggedTracedSqliteConnection", (LoggedSqliteConnection, base), {})


def _pg_connection() -> type[Any]:
    """The PostgreSQL connection class, with a span per statement while tracing is on (MySQL's
    statements get theirs from SQLAlchemy's cursor events)."""
    if tracing.active:
        from roost.core.db.traced_postgres import TracedPgConnection

        return TracedPgConnection
    from roost.core.db.postgres import PgConnection

    return PgConnection


def quote_ident(name: str, dialect: str) -> str:
    """Quote an identifier; names are validated as ``^\\w+$`` before they get here."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def json_array_contains(column_sql: str, param: str, dialect: str) -> str:
    """SQL that is true when the JSON array in ``column_sql`` holds the text bound to ``param``."""
    if dialect == "postgresql":
        return f"({column_sql} @> jsonb_build_array(CAST(:{param} AS TEXT)))"
    if dialect == "mysql":
        return f"JSON_CONTAINS({column_sql}, JSON_QUOTE(:{param}))"
    return f"EXISTS (SELECT 1 FROM json_each({column_sql}) WHERE json_each.value = :{param})"
