"""Telling a lost PostgreSQL connection from a failed statement, on asyncpg's own errors.

Roost's PostgreSQL driver (:mod:`roost.core.db.postgres`) uses this directly; the SQLAlchemy
driver (:mod:`roost.core.db.liveness`) unwraps SQLAlchemy's errors first. Kept apart so that a
PostgreSQL worker does not load SQLAlchemy (about 25 MiB per process).
"""

from __future__ import annotations

import asyncpg

#: seconds to open one connection, and to wait for a free pooled connection
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 5.0

#: asyncpg errors that mean the server or the link is gone, not that the statement was wrong
_ASYNCPG_LOST = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def connection_lost(exc: BaseException) -> bool:
    """Did ``exc`` (an asyncpg or socket error from a statement on an open connection) come from
    a lost connection?"""
    if isinstance(exc, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(exc):
        return True
    return isinstance(exc, (*_ASYNCPG_LOST, ConnectionError))
