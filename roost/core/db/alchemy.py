"""The SQLAlchemy (async) driver, for MySQL/MariaDB through asyncmy (PostgreSQL has its own
driver, :mod:`roost.core.db.postgres`).

Every SQL string passes through :func:`_text`, which caches ``text()`` clauses; driver errors are
translated once here into :class:`~roost.core.db.facade.QueryError` / ``UniqueViolation``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from roost.core.db import mysql as db_mysql
from roost.core.db.base import (
    DatabaseUnavailable,
    QueryError,
    Row,
    UniqueViolation,
)
from roost.core.db.instrument import instrument_engine
from roost.core.db.liveness import (
    cannot_connect,
    connection_lost,
    drop_closed_connections,
    engine_options,
    unavailable_when_lost,
)
from roost.core.db.mysql import collation_statements, duplicate_key, restore_collation
from roost.core.db.sql_log import log_statement
from roost.tools.metrics import Metrics, NullMetrics

_STARTED = "roost_sql_started"


def log_engine(engine: Engine) -> None:
    """Log every statement ``engine`` runs (the ``sync_engine`` of an async engine)."""

    def before(conn: Any, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info[_STARTED] = time.perf_counter()

    def after(conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is not None:
            log_statement(sql, params, time.perf_counter() - started)

    def failed(context: Any) -> None:
        started = context.connection.info.pop(_STARTED, None) if context.connection is not None else None
        if started is not None:
            log_statement(context.statement or "", context.parameters, time.perf_counter() - started, failed=True)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


@lru_cache(maxsize=4096)
def _text(sql: str) -> TextClause:
    return text(sql)


def _unique_violation(exc: IntegrityError) -> UniqueViolation | None:
    key = duplicate_key(exc.orig)
    if key is not None:
        return UniqueViolation(["id"] if key == "PRIMARY" else [], index=key)
    columns = _unique_columns(exc)
    return None if columns is None else UniqueViolation(columns)


def _unique_columns(exc: IntegrityError) -> list[str] | None:
    return [] if "Duplicate entry" in str(exc.orig) else None


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _query_error(exc: BaseException) -> Exception:
    return QueryError(_short(exc))


class AlchemyConnection:
    """One SQLAlchemy async connection inside a transaction (or a read)."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        self.after_rollback: list[Callable[[], Awaitable[None]]] = []

    async def _run(self, sql: str, params: Any) -> Any:
        try:
            return await self._conn.execute(_text(sql), params)
        except IntegrityError as exc:
            violation = _unique_violation(exc)
            if violation is not None:
                raise violation from exc
            raise QueryError(_short(exc)) from exc
        except DBAPIError as exc:
            if connection_lost(exc):
                raise DatabaseUnavailable() from exc
            raise _query_error(exc) from exc

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        result = await self._run(sql, dict(params or {}))
        return [dict(row) for row in result.mappings().all()]

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        result = await self._run(sql, dict(params or {}))
        row = result.mappings().first()
        return None if row is None else dict(row)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        result = await self._run(sql, dict(params or {}))
        return result.scalar()

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        bound = [dict(p) for p in params] if isinstance(params, Sequence) else dict(params or {})
        result = await self._run(sql, bound)
        return int(result.rowcount or 0)

    async def execute_ddl(self, sql: str) -> None:
        try:
            await self._conn.exec_driver_sql(sql)
        except DBAPIError as exc:
            if connection_lost(exc):
                raise DatabaseUnavailable() from exc
            raise QueryError(_short(exc)) from exc

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        if self.dialect == "mysql":
            # DDL commits implicitly there, ending any savepoint; roost.core.collections.mysql_sync undoes instead
            yield
            return
        async with self._conn.begin_nested():
            yield


class AlchemyBackend:
    """A pooled engine shared by reads and writes.

    ``pool_size`` connections stay open, and as many again may be opened for bursts. While the
    database cannot be reached, checking a connection out fails within seconds with
    ``DatabaseUnavailable`` (see ``db_liveness``).
    """

    def __init__(
        self,
        url: str,
        dialect: str,
        *,
        schema: str = "",
        pool_size: int = 10,
        query_timeout: float = 0.0,
        trace_sql: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self.dialect = dialect
        self._metrics = metrics or NullMetrics()
        options: dict[str, Any] = engine_options(dialect)
        if dialect == "mysql":
            mysql = db_mysql.engine_options()
            options |= mysql | {"connect_args": options["connect_args"] | mysql["connect_args"]}
        self._engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **options)
        if dialect == "mysql":
            # runs after the dialect's own connect listeners (see restore_collation)
            event.listen(self._engine.sync_engine, "connect", restore_collation)
        drop_closed_connections(self._engine)
        if trace_sql:
            log_engine(self._engine.sync_engine)
        instrument_engine(self._engine.sync_engine, self._metrics, pool_size)

    async def ping(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(_text("SELECT 1"))
                if self.dialect == "mysql":
                    await _prepare_mysql(conn)
        except (OSError, DBAPIError, OperationalError) as exc:
            raise DatabaseUnavailable(f"Cannot open the database: {_short(exc)}") from exc

    async def _checkout(self, engine: AsyncEngine) -> AsyncConnection:
        conn = engine.connect()
        try:
            await conn.start()
        except Exception as exc:
            if cannot_connect(exc):
                raise DatabaseUnavailable() from exc
            raise
        return conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AlchemyConnection]:
        conn = await self._checkout(self._engine)
        try:
            yield AlchemyConnection(conn, self.dialect)
        finally:
            await conn.close()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AlchemyConnection]:
        conn = await self._checkout(self._engine)
        try:
            with unavailable_when_lost():  # BEGIN and COMMIT can meet a lost connection too
                async with conn.begin():
                    yield AlchemyConnection(conn, self.dialect)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self._engine.dispose()


async def _prepare_mysql(conn: AsyncConnection) -> None:
    current = (await conn.execute(_text("SELECT @@collation_database"))).scalar()
    for sql in collation_statements(str(current)):
        await conn.exec_driver_sql(sql)
