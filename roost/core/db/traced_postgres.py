"""The PostgreSQL connection with a span per statement (only while tracing is on).

The PostgreSQL driver talks to asyncpg directly, so no SQLAlchemy cursor event sees its
statements (:mod:`roost.tools.tracing.database` covers MySQL). :class:`~roost.core.db.postgres.PgBackend`
picks this class when it opens its pool with tracing on, so the untraced driver keeps its hot
path unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from roost.core.db.postgres import PgConnection
from roost.tools.tracing.spans import db_span


class TracedPgConnection(PgConnection):
    async def _send(self, method: str, text: str, args: list[Any]) -> Any:
        with db_span(self.dialect, text):
            return await super()._send(method, text, args)

    async def execute(
        self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        if params is None or isinstance(params, Mapping):
            return await super().execute(sql, params)
        with db_span(self.dialect, sql):
            return await super().execute(sql, params)
