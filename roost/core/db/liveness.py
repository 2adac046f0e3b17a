"""Telling a database outage from a failed statement, for the SQLAlchemy driver.

An outage (refused or timed-out connect, a connection lost mid-query, an exhausted pool, a server
shutting down) becomes :class:`~roost.core.db.base.DatabaseUnavailable`, which the edge answers
with 503 and ``Retry-After``; any other driver error stays a ``QueryError``. Bounded connect and
pool waits turn a dead network path into that 503 within seconds instead of asyncpg's 60 s
connect timeout, and connections whose socket the server closed are dropped when checked out
of the pool, so a restarted database is used again without a restart of Roost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from roost.core.db.base import DatabaseUnavailable
from roost.core.db.lost import CONNECT_TIMEOUT, POOL_TIMEOUT
from roost.core.db.lost import connection_lost as driver_connection_lost


def engine_options(dialect: str) -> dict[str, Any]:
    """``create_async_engine`` keywords bounding connect and pool waits (merged into the caller's)."""
    connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT} if dialect == "postgresql" else {}
    if dialect == "mysql":
        connect_args = {"connect_timeout": int(CONNECT_TIMEOUT)}
    return {"pool_timeout": POOL_TIMEOUT, "connect_args": connect_args}


def connection_lost(exc: BaseException) -> bool:
    """Did ``exc`` (raised by a statement on an open connection) come from a lost connection?"""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = (exc.orig.__cause__ or exc.orig) if exc.orig is not None else exc
    return driver_connection_lost(exc)


def cannot_connect(exc: BaseException) -> bool:
    """Did opening or checking out a connection fail because the database cannot be reached?"""
    return isinstance(exc, (OSError, TimeoutError, PoolTimeout, DisconnectionError, DBAPIError)) or connection_lost(exc)


@contextmanager
def unavailable_when_lost() -> Iterator[None]:
    """Re-raise a lost-connection error from the enclosed statements as ``DatabaseUnavailable``."""
    try:
        yield
    except DBAPIError as exc:
        if connection_lost(exc):
            raise DatabaseUnavailable() from exc
        raise


def drop_closed_connections(engine: AsyncEngine) -> None:
    """Check each pooled asyncpg connection out only if its socket is still open.

    This costs no round trip (unlike ``pool_pre_ping``): a connection the server closed, as a
    restart or a cut link does, is replaced by a new one instead of failing the request.
    """

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise DisconnectionError("the server closed this pooled connection")

    event.listen(engine.sync_engine.pool, "checkout", on_checkout)
