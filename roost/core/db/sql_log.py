"""SQL statements and their timings on the ``roost.sql`` logger (``roost serve --dev``).

A statement is logged with its duration and the *types* of its parameters, never their values:
a parameter may be a password hash, a token or a user's data. PostgreSQL's driver and the embedded
SQLite driver (:class:`LoggedSqliteConnection`) time their own calls; on MySQL the timing comes
from SQLAlchemy's cursor events on the engine (:func:`roost.core.db.alchemy.log_engine`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from roost.core.db.sqlite import SqliteConnection
from roost.core.db.sqlite_pool import Mode

log = logging.getLogger("roost.sql")


def parameter_types(params: Any) -> list[str] | str:
    """What may be logged of a statement's parameters: their type names (``executemany``: the row count)."""
    if params is None:
        return []
    if isinstance(params, Mapping):
        return [type(value).__name__ for value in params.values()]
    if isinstance(params, Sequence) and not isinstance(params, str | bytes):
        if params and all(isinstance(row, Mapping | tuple | list) for row in params):
            return f"{len(params)} rows"
        return [type(value).__name__ for value in params]
    return type(params).__name__


def log_statement(sql: str, params: Any, seconds: float, *, failed: bool = False) -> None:
    """One line for a statement that ran for ``seconds`` (``failed``: it raised)."""
    fields = {"duration_ms": round(seconds * 1000, 3), "params": parameter_types(params)}
    if failed:
        fields["failed"] = True
    log.info("%s", " ".join(sql.split()), extra=fields)


class LoggedSqliteConnection(SqliteConnection):
    """A SQLite connection that logs each statement with its timing."""

    async def _read(self, sql: str, params: Mapping[str, Any] | None, mode: Mode) -> Any:
        started = time.perf_counter()
        failed = True
        try:
            result = await super()._read(sql, params, mode)
            failed = False
            return result
        finally:
            log_statement(sql, params, time.perf_counter() - started, failed=failed)

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> int:
        started = time.perf_counter()
        failed = True
        try:
            count = await super().execute(sql, params)
            failed = False
            return count
        finally:
            log_statement(sql, params, time.perf_counter() - started, failed=failed)

    async def execute_ddl(self, sql: str) -> None:
        started = time.perf_counter()
        try:
            await super().execute_ddl(sql)
        finally:
            log_statement(sql, None, time.perf_counter() - started)


__all__ = ["LoggedSqliteConnection", "log_statement", "parameter_types"]
