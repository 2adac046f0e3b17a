"""Database metrics through SQLAlchemy's own events: pool use and statement time.

The pool's ``checkout``/``checkin`` events keep the checked-out gauge, and the engine's
``before/after_cursor_execute`` time every statement SQLAlchemy runs. Reads that bypass
SQLAlchemy (PostgreSQL's direct asyncpg reads) and SQLite's own driver time themselves with
:func:`timed`. Nothing is attached when metrics are off.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from roost.tools.metrics import Metrics

_STARTED = "roost.query_started"


def instrument_engine(engine: Engine, metrics: Metrics, pool_size: int) -> None:
    """Attach the pool and statement listeners of ``metrics`` to ``engine``."""
    if not metrics.enabled:
        return
    metrics.pool_sized(pool_size)

    def checked_out(*_: Any) -> None:
        metrics.connection_checked_out()

    def checked_in(*_: Any) -> None:
        metrics.connection_checked_in()

    def before(conn: Any, _cursor: Any, _sql: Any, _params: Any, _context: Any, _many: Any) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, _sql: Any, _params: Any, _context: Any, _many: Any) -> None:
        started = conn.info.get(_STARTED)
        if started:
            metrics.query_finished_anywhere(time.perf_counter() - started.pop())

    event.listen(engine.pool, "checkout", checked_out)
    event.listen(engine.pool, "checkin", checked_in)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
