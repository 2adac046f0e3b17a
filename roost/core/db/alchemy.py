"""The SQLAlchemy (async) driver: PostgreSQL through asyncpg, MySQL/MariaDB through asyncmy.

Every SQL string passes through :func:`_text`, which caches ``text()`` clauses; driver errors are
translated once here into :class:`~roost.core.db.facade.QueryError` / ``UniqueViolation``.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from roost.core.db import mysql as db_mysql
from roost.core.db.base import (
    DatabaseUnavailable,
    QueryError,
    QueryTimeout,
    Row,
    UniqueViolation,
    UnstorableText,
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
from roost.core.db.sql_log import log_engine, log_statement
from roost.tools.metrics import Metrics, NullMetrics

_PG_UNIQUE_KEY = re.compile(r"Key \((.+?)\)=")
#: PostgreSQL's SQLSTATEs for text it cannot store (a NUL byte: 22021 in text, 22P05 in jsonb)
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


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
    cause = getattr(exc.orig, "__cause__", None)
    message = f"{exc.orig} {getattr(cause, 'detail', '') or ''}"
    if "duplicate key" in message or "Duplicate entry" in message:
        key = _PG_UNIQUE_KEY.search(message)
        if key:
            return [c.strip().strip('"').removeprefix("lower(").rstrip(")") for c in key.group(1).split(",")]
        return []
    return None


#: PostgreSQL's query_canceled: statement_timeout, or a cancel request
_PG_CANCELED = "57014"


def _timed_out(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None) or exc, "sqlstate", None) == _PG_CANCELED


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _query_error(exc: BaseException) -> Exception:
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) in _UNSTORABLE_TEXT:
        return UnstorableText()
    if _timed_out(exc):
        return QueryTimeout()
    return QueryError(_short(exc))


#: ``:name`` placeholders, as SQLAlchemy's ``text()`` finds them
_PLACEHOLDER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@lru_cache(maxsize=2048)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``:name`` turned into asyncpg's ``$n`` (a repeated name keeps its number)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


class AlchemyConnection:
    """One SQLAlchemy async connection inside a transaction (or a read).

    A PostgreSQL read connection (autocommit) sends its queries straight to the asyncpg connection
    under the adapter: SQLAlchemy's layers cost several times the query's own round trip there.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        dialect: str,
        *,
        direct_reads: bool = False,
        trace_sql: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self._conn = conn
        #: direct reads skip the engine's cursor events, so they log and time their own statements
        self._trace = trace_sql
        self._metrics = metrics
        self.dialect = dialect
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        self.after_rollback: list[Callable[[], Awaitable[None]]] = []
        self._direct_reads = direct_reads
        self._asyncpg: Any = None

    async def _fetch_direct(self, sql: str, params: Mapping[str, Any] | None) -> list[Any]:
        if self._asyncpg is None:
            self._asyncpg = (await self._conn.get_raw_connection()).driver_connection
        text, names = _numbered(sql)
        values = params or {}
        started = time.perf_counter()
        try:
            rows = list(await self._asyncpg.fetch(text, *[values[n] for n in names]))
        except KeyError as exc:
            raise QueryError(f"missing parameter {exc}") from exc
        except Exception as exc:  # asyncpg's errors: bad SQL or values, a lost connection
            if self._trace:
                log_statement(text, [values.get(n) for n in names], time.perf_counter() - started, failed=True)
            if connection_lost(exc):
                await self._conn.invalidate()  # never back into the pool
                raise DatabaseUnavailable() from exc
            raise _query_error(exc) from exc
        if self._trace:
            log_statement(text, [values[n] for n in names], time.perf_counter() - started)
        if self._metrics is not None:
            self._metrics.query_finished(time.perf_counter() - started)
        return rows

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
        if self._direct_reads:
            return [dict(row) for row in await self._fetch_direct(sql, params)]
        result = await self._run(sql, dict(params or {}))
        return [dict(row) for row in result.mappings().all()]

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        if self._direct_reads:
            rows = await self._fetch_direct(sql, params)
            return dict(rows[0]) if rows else None
        result = await self._run(sql, dict(params or {}))
        row = result.mappings().first()
        return None if row is None else dict(row)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._direct_reads:
            rows = await self._fetch_direct(sql, params)
            return rows[0][0] if rows else None
        result = await self._run(sql, dict(params or {}))
        return result.scalar()

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        bound = [dict(p) for p in params] if isinstance(params, Sequence) else dict(params or {})
        result = await self._run(sql, bound)
        return int(result.rowcount or 0)

    async def execute_ddl(self, sql: str) -> None:
        try:
            if self.dialect == "postgresql":
                # schema changes (an index on a big table) may outlast the query timeout
                await self._conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
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
        connection_class: Callable[[], type[AlchemyConnection]] = lambda: AlchemyConnection,
        trace_sql: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self.dialect = dialect
        #: picks the connection class when the database opens (a traced one while tracing is on)
        self._connection_class = connection_class
        self._connection = AlchemyConnection
        self._metrics = metrics or NullMetrics()
        options: dict[str, Any] = engine_options(dialect)
        if dialect == "postgresql":
            # the server stops any statement past the query timeout, also one whose client is gone
            settings = {"statement_timeout": str(round(query_timeout * 1000))}
            if schema:
                settings["search_path"] = schema
            options["connect_args"]["server_settings"] = settings
            # jsonb arrives decoded: orjson reads integers past 64 bits as floats, which every
            # JSON encoder can write back (the standard library's would give Python ints)
            options["json_deserializer"] = orjson.loads
        if dialect == "mysql":
            mysql = db_mysql.engine_options()
            options |= mysql | {"connect_args": options["connect_args"] | mysql["connect_args"]}
        self._engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **options)
        if dialect == "mysql":
            # runs after the dialect's own connect listeners (see restore_collation)
            event.listen(self._engine.sync_engine, "connect", restore_collation)
        drop_closed_connections(self._engine)
        self._trace = trace_sql
        if trace_sql:
            log_engine(self._engine.sync_engine)
        instrument_engine(self._engine.sync_engine, self._metrics, pool_size)
        # reads on PostgreSQL run in autocommit: no BEGIN before and no ROLLBACK after each one,
        # two round trips fewer per read (asyncpg switches modes without a round trip; asyncmy
        # would need a SET per checkout, so MySQL keeps the default)
        self._reader = self._engine.execution_options(isolation_level="AUTOCOMMIT") if dialect == "postgresql" else self._engine

    async def ping(self) -> None:
        self._connection = self._connection_class()
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
        conn = await self._checkout(self._reader)
        try:
            direct = self.dialect == "postgresql"
            yield self._connection(
                conn, self.dialect, direct_reads=direct, trace_sql=self._trace,
                metrics=self._metrics if self._metrics.enabled else None,
            )  # fmt: skip
        finally:
            await conn.close()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AlchemyConnection]:
        conn = await self._checkout(self._engine)
        try:
            with unavailable_when_lost():  # BEGIN and COMMIT can meet a lost connection too
                async with conn.begin():
                    yield self._connection(conn, self.dialect)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self._engine.dispose()


async def _prepare_mysql(conn: AsyncConnection) -> None:
    current = (await conn.execute(_text("SELECT @@collation_database"))).scalar()
    for sql in collation_statements(str(current)):
        await conn.exec_driver_sql(sql)
