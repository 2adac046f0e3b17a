"""The SQLite connection with a span per statement (used only while tracing is on).

:class:`~roost.core.db.sqlite.SqliteBackend` picks this class when it opens the database with
tracing on, so the untraced driver keeps its hot path unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.core.db.sqlite import SqliteConnection
from roost.core.db.sqlite_pool import Mode
from roost.tools.tracing.spans import db_span


class TracedSqliteConnection(SqliteConnection):
    async def _read(self, sql: str, params: Mapping[str, Any] | None, mode: Mode) -> Any:
        with db_span("sqlite", sql):
            return await super()._read(sql, params, mode)

    async def execute(
        self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        with db_span("sqlite", sql):
            return await super().execute(sql, params)

    async def execute_ddl(self, sql: str) -> None:
        with db_span("sqlite", sql):
            await super().execute_ddl(sql)
