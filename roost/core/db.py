"""Database access: async engines, read/write connections, transactions and dialect quirks.

SQLite gets a pool of read connections and exactly one write connection, so concurrent writes
queue inside the process instead of failing with "database is locked". PostgreSQL uses one
asyncpg pool for both. Every SQL string passes through :func:`_text`, which caches compiled
``text()`` clauses; user values are always bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from roost.core.errors import RoostError

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout = 10000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA journal_size_limit = 200000000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32000",
)

Row = Mapping[str, Any]
_current_tx: ContextVar[Connection | None] = ContextVar("roost_current_tx", default=None)


class DatabaseUnavailable(RoostError):
    kind = "internal"
    default_message = "The database is unavailable."


class UniqueViolation(Exception):
    """A UNIQUE constraint failed; ``columns`` names the columns when the driver tells."""

    def __init__(self, columns: list[str]) -> None:
        super().__init__(", ".join(columns))
        self.columns = columns


@lru_cache(maxsize=4096)
def _text(sql: str) -> TextClause:
    return text(sql)


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")
_PG_UNIQUE_KEY = re.compile(r"Key \((.+?)\)=")


def _unique_columns(exc: IntegrityError) -> list[str] | None:
    cause = getattr(exc.orig, "__cause__", None)
    message = f"{exc.orig} {getattr(cause, 'detail', '') or ''}"
    match = _SQLITE_UNIQUE.search(message)
    if match:
        return [part.strip().split(".")[-1] for part in match.group(1).split(",")]
    if "duplicate key" in message or "Duplicate entry" in message:
        key = _PG_UNIQUE_KEY.search(message)
        if key:
            return [c.strip().strip('"').removeprefix("lower(").rstrip(")") for c in key.group(1).split(",")]
        return []
    return None


class Connection:
    """A thin wrapper over one SQLAlchemy async connection (inside a transaction)."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        #: callbacks to run once the outermost transaction has committed
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        result = await self._conn.execute(_text(sql), dict(params or {}))
        return [dict(row) for row in result.mappings().all()]

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        result = await self._conn.execute(_text(sql), dict(params or {}))
        row = result.mappings().first()
        return None if row is None else dict(row)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        result = await self._conn.execute(_text(sql), dict(params or {}))
        return result.scalar()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: a failure inside rolls back only to here."""
        async with self._conn.begin_nested():
            yield

    async def execute_ddl(self, sql: str) -> None:
        """Run a parameterless statement verbatim (DDL may hold ``:`` inside default literals)."""
        await self._conn.exec_driver_sql(sql)

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        try:
            if isinstance(params, Sequence):
                result = await self._conn.execute(_text(sql), [dict(p) for p in params])
            else:
                result = await self._conn.execute(_text(sql), dict(params or {}))
        except IntegrityError as exc:
            columns = _unique_columns(exc)
            if columns is not None:
                raise UniqueViolation(columns) from exc
            raise
        return int(result.rowcount or 0)


class Database:
    """The app's database: a read side and a serialised (SQLite) or pooled (PostgreSQL) write side."""

    def __init__(self, url: str, *, read_pool: int = 4, schema: str = "") -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            self._write = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
            self._read = create_async_engine(url, pool_size=read_pool, max_overflow=0, pool_timeout=60)
            for engine, begin in ((self._write, "BEGIN IMMEDIATE"), (self._read, "BEGIN")):
                _tune_sqlite(engine, begin)
        else:
            connect_args = {"server_settings": {"search_path": schema}} if schema else {}
            self._write = create_async_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args)
            self._read = self._write

    async def ping(self) -> None:
        """Open a connection once, turning driver failures into one clear error."""
        try:
            async with self._write.connect() as conn:
                await conn.execute(_text("SELECT 1"))
        except (OSError, DBAPIError, OperationalError) as exc:
            raise DatabaseUnavailable(f"Cannot open the database: {_short(exc)}") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read connection; inside a transaction, that transaction's connection (so it sees its writes)."""
        current = _current_tx.get()
        if current is not None:
            yield current
            return
        async with self._read.connect() as conn:
            yield Connection(conn, self.dialect)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A write transaction. Nested calls in the same task join the outer one (batch requests)."""
        current = _current_tx.get()
        if current is not None:
            yield current
            return
        async with self._write.begin() as conn:
            wrapped = Connection(conn, self.dialect)
            token = _current_tx.set(wrapped)
            try:
                yield wrapped
            finally:
                _current_tx.reset(token)
        for callback in wrapped.after_commit:
            await callback()

    async def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` now, or after the commit of the transaction this task is inside."""
        current = _current_tx.get()
        if current is None:
            await callback()
        else:
            current.after_commit.append(callback)

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        async with self.read() as conn:
            return await conn.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        async with self.read() as conn:
            return await conn.fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        async with self.read() as conn:
            return await conn.fetch_value(sql, params)

    def quote(self, name: str) -> str:
        return quote_ident(name, self.dialect)

    async def close(self) -> None:
        await self._write.dispose()
        if self._read is not self._write:
            await self._read.dispose()


def quote_ident(name: str, dialect: str) -> str:
    """Quote an identifier; names are validated as ``^\\w+$`` before they get here."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _tune_sqlite(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def json_array_contains(column_sql: str, param: str, dialect: str) -> str:
    """SQL that is true when the JSON array in ``column_sql`` holds the text bound to ``param``."""
    if dialect == "postgresql":
        return f"({column_sql} @> jsonb_build_array(CAST(:{param} AS TEXT)))"
    if dialect == "mysql":
        return f"JSON_CONTAINS({column_sql}, JSON_QUOTE(:{param}))"
    return f"EXISTS (SELECT 1 FROM json_each({column_sql}) WHERE json_each.value = :{param})"
