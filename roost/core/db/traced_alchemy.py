"""The PostgreSQL read connection with a span per direct asyncpg query (only while tracing is on).

Statements that go through SQLAlchemy get their spans from its cursor events
(:mod:`roost.tools.tracing.database`); PostgreSQL reads skip SQLAlchemy and are covered here.
:class:`~roost.core.db.alchemy.AlchemyBackend` picks this class when it opens the database with
tracing on, so the untraced driver keeps its hot path unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.core.db.alchemy import AlchemyConnection
from roost.tools.tracing.spans import db_span


class TracedAlchemyConnection(AlchemyConnection):
    async def _fetch_direct(self, sql: str, params: Mapping[str, Any] | None) -> list[Any]:
        with db_span(self.dialect, sql):
            return await super()._fetch_direct(sql, params)
