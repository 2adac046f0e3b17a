"""The SQLAlchemy (async) driver: PostgreSQL through asyncpg, and any other SQLAlchemy URL.

Every SQL string passes through :func:`_text`, which caches ``text()`` clauses; driver errors are
translated once here into :class:`~roost.core.db.QueryError` / ``UniqueViolation``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.elements import TextClause

from roost.core.db_base import DatabaseUnavailable, QueryError, Row, UniqueViolation

_PG_UNIQUE_KEY = re.compile(r"Key \((.+?)\)=")


@lru_cache(maxsize=4096)
def _text(sql: str) -> TextClause:
    return text(sql)


def _unique_columns(exc: IntegrityError) -> list[str] | None:
    cause = getattr(exc.orig, "__cause__", None)
    message = f"{exc.orig} {getattr(cause, 'detail', '') or ''}"
    if "duplicate key" in message or "Duplicate entry" in message:
        key = _PG_UNIQUE_KEY.search(message)
        if key:
            return [c.strip().strip('"').removeprefix("lower(").rstrip(")") for c in key.group(1).split(",")]
        return []
    return None


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


class AlchemyConnection:
    """One SQLAlchemy async connection inside a transaction (or a read)."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    async def _run(self, sql: str, params: Any) -> Any:
        try:
            return await self._conn.execute(_text(sql), params)
        except IntegrityError as exc:
            columns = _unique_columns(exc)
            if columns is not None:
                raise UniqueViolation(columns) from exc
            raise QueryError(_short(exc)) from exc
        except DBAPIError as exc:
            raise QueryError(_short(exc)) from exc

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
            raise QueryError(_short(exc)) from exc

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._conn.begin_nested():
            yield


class AlchemyBackend:
    """A pooled engine shared by reads and writes."""

    def __init__(self, url: str, dialect: str, *, schema: str = "") -> None:
        self.dialect = dialect
        connect_args = {"server_settings": {"search_path": schema}} if schema and dialect == "postgresql" else {}
        self._engine = create_async_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args)

    async def ping(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(_text("SELECT 1"))
        except (OSError, DBAPIError, OperationalError) as exc:
            raise DatabaseUnavailable(f"Cannot open the database: {_short(exc)}") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AlchemyConnection]:
        async with self._engine.connect() as conn:
            yield AlchemyConnection(conn, self.dialect)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AlchemyConnection]:
        async with self._engine.begin() as conn:
            yield AlchemyConnection(conn, self.dialect)

    async def close(self) -> None:
        await self._engine.dispose()
