"""The PostgreSQL driver: asyncpg connections in Roost's own pool, with no SQLAlchemy on the
request path.

Every statement is one round trip on a prepared statement from asyncpg's per-connection cache
(``:name`` placeholders become ``$n`` once per SQL string). Reads run outside any transaction
(autocommit: no ``BEGIN``/``ROLLBACK`` around them), a write transaction is ``BEGIN``, its
statements and ``COMMIT``, and a connection goes back to the pool with no reset query: Roost keeps
no session state on pooled connections (no ``SET``, ``LISTEN``, advisory locks or cursors; the
LISTEN/NOTIFY broker has its own connections), and one that comes back inside a transaction or
from a cancelled request is closed instead (:mod:`roost.core.db.pg_pool`).

Connection-level guarantees are those of the former SQLAlchemy path: a pool that stays exhausted
for ``POOL_TIMEOUT`` seconds, a refused or slow connect and a connection lost mid-statement are
``DatabaseUnavailable`` (503); a pooled connection the server closed is replaced when checked out;
``statement_timeout`` (the query timeout) is a server setting of every connection, so the server
stops a statement past it, also one whose request was cancelled.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg
import orjson

from roost.core.db.base import (
    DatabaseUnavailable,
    QueryError,
    QueryTimeout,
    Row,
    UniqueViolation,
    UnstorableText,
)
from roost.core.db.lost import CONNECT_TIMEOUT, POOL_TIMEOUT, connection_lost
from roost.core.db.pg_pool import ConnectionPool
from roost.core.db.placeholders import numbered
from roost.core.db.sql_log import log_statement
from roost.tools.metrics import Metrics, NullMetrics

_UNIQUE_KEY = re.compile(r"Key \((.+?)\)=")
#: PostgreSQL's SQLSTATEs for text it cannot store (a NUL byte: 22021 in text, 22P05 in jsonb)
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
#: query_canceled: statement_timeout, or a cancel request
_CANCELED = "57014"
#: prepared statements kept per connection (asyncpg's default is 100; record SQL varies by collection)
STATEMENT_CACHE = 1024
#: seconds closing the pool waits for connections still in use
CLOSE_TIMEOUT = 5.0


def connect_options(url: str, *, schema: str = "", query_timeout: float = 0.0) -> dict[str, Any]:
    """``asyncpg.connect`` keywords for a ``postgresql+asyncpg://`` URL: its host, user and query
    options (``ssl=``, as :func:`roost.config.asyncpg_ssl` writes it) plus Roost's server settings."""
    options = url_parts(url)
    if "port" in options:
        options["port"] = int(options["port"])
    # the server stops any statement past the query timeout, also one whose client is gone
    settings = {"statement_timeout": str(round(query_timeout * 1000))}
    if schema:
        settings["search_path"] = schema
    return options | {
        "server_settings": settings,
        "timeout": CONNECT_TIMEOUT,
        "statement_cache_size": STATEMENT_CACHE,
    }


def url_parts(url: str) -> dict[str, Any]:
    """The parts of a database URL as connect keywords: ``host``, ``port``, ``user``,
    ``password`` and ``database`` where present (the credentials and the database name
    percent-decoded; a host in brackets loses them), then its query options, which win over the
    parts (an option given twice becomes a tuple of its values; an empty one is left out)."""
    split = urlsplit(url)
    userinfo, _, hostport = split.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    parts = {"host": host, "port": port, "user": unquote(user), "password": unquote(password),
             "database": unquote(split.path[1:])}  # fmt: skip
    query: dict[str, Any] = {}
    for key, value in parse_qsl(split.query):
        held = query.get(key)
        query[key] = value if held is None else (*held, value) if isinstance(held, tuple) else (held, value)
    return {key: value for key, value in parts.items() if value} | query


async def _set_codecs(conn: asyncpg.Connection) -> None:
    """JSON columns arrive decoded and are sent as JSON text. orjson reads integers past 64 bits
    as floats, which every JSON encoder can write back (the standard library's would give Python
    ints)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_identity, decoder=orjson.loads, schema="pg_catalog", format="text"
        )


def _identity(value: str) -> str:
    return value


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # the pool took back the connection when it was lost
        return True


def _terminate(conn: asyncpg.Connection) -> None:
    """Close a connection whose link is lost, so it never goes back into the pool as healthy."""
    if not _closed(conn):
        conn.terminate()


def _row_count(status: str) -> int:
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


def _unique_violation(exc: BaseException) -> UniqueViolation:
    key = _UNIQUE_KEY.search(f"{exc} {getattr(exc, 'detail', '') or ''}")
    if not key:
        return UniqueViolation([])
    return UniqueViolation(
        [c.strip().strip('"').removeprefix("lower(").rstrip(")") for c in key.group(1).split(",")]
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _query_error(exc: BaseException) -> Exception:
    if isinstance(exc, asyncpg.UniqueViolationError):
        return _unique_violation(exc)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _UNSTORABLE_TEXT:
        return UnstorableText()
    if sqlstate == _CANCELED:
        return QueryTimeout()
    return QueryError(_short(exc))


class PgConnection:
    """One pooled asyncpg connection, inside a write transaction or for reads in autocommit."""

    dialect = "postgresql"

    def __init__(
        self, conn: asyncpg.Connection, *, trace_sql: bool = False, metrics: Metrics | None = None,
        statements: int | None = None,
    ) -> None:  # fmt: skip
        self._conn = conn
        self._trace = trace_sql
        self._metrics = metrics
        #: statements this connection may still run (None: any number); see PgBackend.begin_one
        self._left = statements
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        self.after_rollback: list[Callable[[], Awaitable[None]]] = []

    async def _run(self, method: str, sql: str, params: Mapping[str, Any] | None) -> Any:
        text, names = numbered(sql)
        values = params or {}
        try:
            args = [values[n] for n in names]
        except KeyError as exc:
            raise QueryError(f"missing parameter {exc}") from exc
        return await self._send(method, text, args)

    def _count(self) -> None:
        if self._left is not None:
            if self._left <= 0:
                raise RuntimeError("a one-statement write ran a second statement: use a transaction")
            self._left -= 1

    async def _send(self, method: str, text: str, args: list[Any]) -> Any:
        self._count()
        started = time.perf_counter()
        try:
            result = await getattr(self._conn, method)(text, *args)
        except Exception as exc:  # asyncpg's errors: bad SQL or values, a lost connection
            self._finished(text, args, started, failed=True)
            if connection_lost(exc):
                _terminate(self._conn)
                raise DatabaseUnavailable() from exc
            raise _query_error(exc) from exc
        self._finished(text, args, started)
        return result

    def _finished(
        self, text: str, args: list[Any], started: float, *, failed: bool = False
    ) -> None:
        if self._trace:
            log_statement(text, args, time.perf_counter() - started, failed=failed)
        if self._metrics is not None and not failed:
            self._metrics.query_finished(time.perf_counter() - started)

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return [dict(row) for row in await self._run("fetch", sql, params)]

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        row = await self._run("fetchrow", sql, params)
        return None if row is None else dict(row)

    async def fetch_value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._run("fetchval", sql, params)

    async def execute(
        self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        if params is None or isinstance(params, Mapping):
            return _row_count(await self._run("execute", sql, params))
        if not params:
            return 0
        text, names = numbered(sql)
        try:
            rows = [[p[n] for n in names] for p in params]
        except KeyError as exc:
            raise QueryError(f"missing parameter {exc}") from exc
        self._count()
        started = time.perf_counter()
        try:
            await self._conn.executemany(text, rows)
        except Exception as exc:
            self._finished(text, rows, started, failed=True)
            if connection_lost(exc):
                _terminate(self._conn)
                raise DatabaseUnavailable() from exc
            raise _query_error(exc) from exc
        self._finished(text, rows, started)
        return len(rows)

    async def execute_ddl(self, sql: str) -> None:
        # schema changes (an index on a big table) may outlast the query timeout
        await self._send("execute", "SET LOCAL statement_timeout = 0", [])
        await self._send("execute", sql, [])  # as written: no placeholders in DDL

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        if self._left is not None:
            raise RuntimeError("a one-statement write has no savepoints: use a transaction")
        try:
            async with self._conn.transaction():
                yield
        except Exception as exc:
            if connection_lost(exc):
                raise DatabaseUnavailable() from exc
            raise


class PgBackend:
    """An asyncpg pool shared by reads and writes.

    ``pool_size`` connections stay open, and as many again may be opened for bursts (idle ones are
    closed after ``IDLE_LIFETIME`` seconds). Connections open on first use.
    """

    IDLE_LIFETIME = 300.0

    def __init__(
        self,
        url: str,
        *,
        schema: str = "",
        pool_size: int = 10,
        query_timeout: float = 0.0,
        connection_class: Callable[[], type[PgConnection]] = lambda: PgConnection,
        trace_sql: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self._options = connect_options(url, schema=schema, query_timeout=query_timeout)
        self._pool_size = pool_size
        #: picks the connection class when the pool opens (a traced one while tracing is on)
        self._connection_class = connection_class
        self._connection = PgConnection
        self._trace = trace_sql
        self._metrics = metrics or NullMetrics()
        self._metrics.pool_sized(pool_size)
        self._pool: ConnectionPool | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> ConnectionPool:
        async with self._opening:
            if self._pool is None:
                self._connection = self._connection_class()
                self._pool = ConnectionPool(
                    self._new_connection,
                    max_size=2 * self._pool_size,
                    idle_lifetime=self.IDLE_LIFETIME,
                )
            return self._pool

    async def _new_connection(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(**self._options)
        try:
            await _set_codecs(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def ping(self) -> None:
        try:
            async with self._checkout() as conn:
                await conn.fetchval("SELECT 1")
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(
                f"Cannot open the database: {_short(exc.__cause__ or exc)}"
            ) from exc

    async def _acquire(self) -> tuple[ConnectionPool, asyncpg.Connection]:
        pool = self._pool or await self._open()
        try:
            conn = await pool.acquire(POOL_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable() from exc
        if self._metrics.enabled:
            self._metrics.connection_checked_out()
        return pool, conn

    def _release(self, pool: ConnectionPool, conn: asyncpg.Connection, *, reusable: bool) -> None:
        pool.release(conn, reusable=reusable)
        if self._metrics.enabled:
            self._metrics.connection_checked_in()

    @asynccontextmanager
    async def _checkout(self) -> AsyncIterator[asyncpg.Connection]:
        pool, conn = await self._acquire()
        # a request cancelled mid-statement may leave its statement running: the connection is
        # closed (after asyncpg's cancel request), not reused
        reusable = False
        try:
            yield conn
            reusable = True
        except Exception:
            reusable = True
            raise
        finally:
            self._release(pool, conn, reusable=reusable)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PgConnection]:
        async with self._checkout() as conn:
            yield self._connection(conn, trace_sql=self._trace, metrics=self._measured)

    async def read_one(self, method: str, sql: str, params: Mapping[str, Any] | None) -> Any:
        """One read statement on a pooled connection: what ``read()`` gives, without its two
        context managers (each an async generator, which asyncio also registers; in a profile of
        a record view under load, entering and leaving them took 6.6% of the worker's samples).
        ``method`` is ``fetch_all``, ``fetch_one`` or ``fetch_value`` of :class:`PgConnection`."""
        pool, conn = await self._acquire()
        reusable = False  # as in _checkout: a cancelled read's connection is not reused
        try:
            result = await getattr(self._connection(conn, trace_sql=self._trace, metrics=self._measured), method)(sql, params)
            reusable = True
            return result
        except Exception:
            reusable = True
            raise
        finally:
            self._release(pool, conn, reusable=reusable)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[PgConnection]:
        async with self._checkout() as conn:
            transaction = conn.transaction()
            await self._control(transaction.start())
            try:
                yield self._connection(conn, trace_sql=self._trace, metrics=self._measured)
            except BaseException:
                if not _closed(conn):
                    # if this fails, the release rolls back or terminates the connection
                    with suppress(Exception):
                        await transaction.rollback()
                raise
            await self._control(transaction.commit())

    @asynccontextmanager
    async def begin_one(self) -> AsyncIterator[PgConnection]:
        """A write of exactly one statement: PostgreSQL runs a statement outside a transaction
        block as a transaction of its own, so it commits or fails whole without the ``BEGIN``
        and ``COMMIT`` round trips (about a sixth of a create's CPU). A second statement is a
        programming error and raises before it is sent."""
        async with self._checkout() as conn:
            yield self._connection(conn, trace_sql=self._trace, metrics=self._measured, statements=1)

    @staticmethod
    async def _control(step: Awaitable[None]) -> None:
        """``BEGIN`` or ``COMMIT``: a lost connection there is an outage too."""
        try:
            await step
        except Exception as exc:
            if connection_lost(exc):
                raise DatabaseUnavailable() from exc
            raise _query_error(exc) from exc

    @property
    def _measured(self) -> Metrics | None:
        return self._metrics if self._metrics.enabled else None

    async def close(self) -> None:
        if self._pool is None:
            return
        # a statement still running past the timeout is cut: shutdown does not wait on it
        await self._pool.close(CLOSE_TIMEOUT)
