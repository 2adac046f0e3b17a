"""Request and app logs (``app.logs``): PocketBase's ``_logs`` table, written in batches.

Every HTTP request leaves one :class:`RequestEntry` in an in-memory buffer (the transport
appends it after the response is sent; nothing else happens on the request path). A background
job of ``app.jobs`` turns the buffer into rows and writes them in one transaction every
``flush_interval`` seconds, or at once when ``batch_size`` entries are waiting; closing the app
writes what is left. The system cron job ``__pbLogsCleanup__`` deletes rows older than the
``logs.maxDays`` setting. ``maxDays = 0`` turns request logging off, as in PocketBase.

Logs are stored apart from the data: in ``<data_dir>/auxiliary.db`` on SQLite, and in the
``_logs`` table of the main database on PostgreSQL and MySQL (same columns). Rows hold no
secrets: the request line keeps its query string (PocketBase's shape), but no header other than
the Referer and User-Agent is read, and ``token`` query values on file URLs are masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from roost.core.base import App
from roost.core.db.facade import Database, UniqueViolation
from roost.core.errors import NotFound
from roost.core.events import RequestInfo
from roost.core.records.queries import ListQuery, Page
from roost.core.rules.engine import compile_condition, compile_order, new_binder
from roost.core.schema.collection import Collection
from roost.core.schema.fields import field_from_dict
from roost.core.schema.fields.date import format_datetime
from roost.tools.ratelimit.client_ip import client_ip

TABLE = "_logs"
CLEANUP_JOB = "__pbLogsCleanup__"
#: PocketBase's (slog) levels
DEBUG, INFO, WARN, ERROR = -4, 0, 4, 8
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID_TABLE = bytes(_ID_ALPHABET.encode()[i % 36] for i in range(256))
_LOG = logging.getLogger("roost.logs")
_TOKEN_PARAM = re.compile(r"(^|&)token=[^&]*")
#: loggers whose lines are stdout-only: each request already has its row, and SQL statements
#: (``--dev``) would feed back into the table through the writer's own statements
NOT_APP_LOGS = frozenset({"roost.request", "roost.sql"})

#: the filterable and sortable columns of ``_logs``, described as a pseudo collection
_META = Collection(
    id=TABLE,
    name=TABLE,
    fields=[field_from_dict({"type": "text", "name": n}) for n in ("id", "message", "created")]
    + [field_from_dict({"type": "number", "name": "level"}), field_from_dict({"type": "json", "name": "data"})],
)


class RequestEntry:
    """What the transport knows about one finished request; turned into a row at flush time."""

    __slots__ = ("created", "error", "exec_ms", "headers", "info", "method", "path", "peer", "query", "status")

    def __init__(self, created: float, method: str, path: str, query: bytes, status: int, exec_ms: float,
                 peer: str, headers: Sequence[tuple[bytes, bytes]], info: RequestInfo | None,
                 error: tuple[str, Any] | None) -> None:  # fmt: skip
        self.created, self.method, self.path, self.query = created, method, path, query
        self.status, self.exec_ms, self.peer, self.headers = status, exec_ms, peer, headers
        self.info, self.error = info, error

    @property
    def level(self) -> int:
        return ERROR if self.status >= 400 else INFO


@dataclass(frozen=True)
class AppEntry:
    """A line of Roost's own log (``roost.*`` loggers at the ``logs.minLevel``)."""

    created: float
    level: int
    message: str
    data: dict[str, Any]


#: log ids start with the entry's time: milliseconds since 2020-01-01 in 8 base-36 digits
_ID_EPOCH_MS = 1_577_836_800_000
_ID_TIME_DIGITS, _ID_RANDOM_DIGITS = 8, 7
_ID_SORTED_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"  # digits first, so ids sort as their times
#: how many times a batch is written with fresh ids when one of them was already taken
ID_ATTEMPTS = 3


def new_log_id(created: float) -> str:
    """15 characters of ``[a-z0-9]``, as PocketBase's log ids: :func:`new_log_ids` for one entry."""
    return new_log_ids([created])[0]


def new_log_ids(created: Sequence[float]) -> list[str]:
    """One id per creation time (seconds): 8 characters of the time in milliseconds, then 7
    random ones, from one urandom call per batch.

    Ids that follow the time land at the right edge of the table's primary-key index, so a batch
    of a thousand rows dirties a handful of its pages; random ids scattered each row over the
    whole index and made the writer copy about 4 MB of pages into the WAL per batch (19 against
    4.5 µs of CPU per row). Ids made in the same millisecond share their first 8 characters and
    are told apart by the 7 random ones; the writers retry a batch whose id was already taken
    (:data:`ID_ATTEMPTS`). (256 is not a multiple of 36, so four random characters are slightly
    likelier; an id needs to be unique, not uniform.)"""
    text = secrets.token_bytes(_ID_RANDOM_DIGITS * len(created)).translate(_ID_TABLE).decode()
    ids, last_ms, prefix = [], -1, ""
    for i, ts in enumerate(created):
        ms = max(int(ts * 1000) - _ID_EPOCH_MS, 0)
        if ms != last_ms:
            last_ms, digits = ms, []
            for _ in range(_ID_TIME_DIGITS):
                ms, digit = divmod(ms, 36)
                digits.append(_ID_SORTED_ALPHABET[digit])
            prefix = "".join(reversed(digits))
        ids.append(prefix + text[i * _ID_RANDOM_DIGITS : (i + 1) * _ID_RANDOM_DIGITS])
    return ids


class _Stamps:
    """Formats creation times (seconds) as the ``created`` column, each second's date and time
    once and each millisecond's stamp once: the entries of a batch share a few seconds, and
    under load a worker logs several requests a millisecond."""

    __slots__ = ("ms", "prefix", "second", "stamp")

    def __init__(self) -> None:
        self.second, self.prefix, self.ms, self.stamp = -1, "", -1, ""

    def __call__(self, ts: float) -> str:
        ms = int(ts * 1000)
        if ms == self.ms:
            return self.stamp
        second, millis = divmod(ms, 1000)
        if second != self.second:
            self.second, self.prefix = second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        self.ms, self.stamp = ms, f"{self.prefix}.{millis:03d}Z"
        return self.stamp


def _created(ts: float) -> str:
    return _Stamps()(ts)


def request_url(path: str, query: bytes) -> str:
    """The logged URL: path and query string, with any ``token`` value masked. A file token
    grants file access for minutes and a log reader is not meant to reuse it (PocketBase logs it
    as sent); clients that put an auth token in a query string get the same protection."""
    if not query:
        return path
    text = query.decode("latin-1")
    if "token=" in text:
        text = _TOKEN_PARAM.sub(r"\1token=***", text)
    return f"{path}?{text}"


class _RowOptions:
    """What the settings say about every request row of a batch (read once per batch)."""

    __slots__ = ("leftmost", "log_auth_id", "log_ip", "proxy_headers")

    def __init__(self, settings: dict[str, Any]) -> None:
        logs = settings.get("logs") or {}
        proxy = settings.get("trustedProxy") or {}
        self.log_auth_id = bool(logs.get("logAuthId"))
        self.log_ip = bool(logs.get("logIP", True))
        self.proxy_headers = proxy.get("headers") or ()
        self.leftmost = bool(proxy.get("useLeftmostIP"))


#: a ``_logs`` row as the writers take it: id, level, message, data (a dict), created
Row = tuple[str, int, str, dict[str, Any], str]


def request_row(entry: RequestEntry, settings: dict[str, Any], log_id: str = "") -> dict[str, Any]:
    """The ``_logs`` row of one request, as PocketBase writes it."""
    message, data = _request_data(entry, _RowOptions(settings))
    return _as_dict((log_id or new_log_id(entry.created), entry.level, message, data, _created(entry.created)))


def _request_data(entry: RequestEntry, options: _RowOptions) -> tuple[str, dict[str, Any]]:
    """The message and data of a request's row."""
    url = request_url(entry.path, entry.query)
    info = entry.info
    referer = agent = None
    for name, value in entry.headers:  # the first of each, in one pass
        if name == b"user-agent":
            if agent is None:
                agent = value.decode("latin-1")
        elif name == b"referer" and referer is None:
            referer = value.decode("latin-1")
    data: dict[str, Any] = {
        "type": "request",
        "method": entry.method,
        "url": url,
        "status": entry.status,
        "execTime": round(entry.exec_ms, 6),
        "referer": referer or "",
        "userAgent": agent or "",
        "auth": info.auth_collection.name if info is not None and info.auth and info.auth_collection else "",
    }
    if info is not None:
        if options.log_auth_id and info.auth:
            data["authId"] = info.auth_id
        if info.api_key is not None:
            data["apiKey"] = info.api_key.id  # the key's id only: never the key
    if options.log_ip:
        data["remoteIP"] = entry.peer
        data["userIP"] = client_ip(entry.peer, entry.headers, options.proxy_headers, options.leftmost)
    if entry.error is not None:
        data["error"], data["details"] = entry.error
    return f"{entry.method} {url}", data


def _as_dict(row: Row) -> dict[str, Any]:
    log_id, level, message, data, created = row
    return {"id": log_id, "level": level, "message": message, "data": data, "created": created}


class Logs:
    """The app's log buffer, its writer job and the queries of the logs API."""

    def __init__(self, app: App, *, flush_interval: float = 0.2, batch_size: int = 500) -> None:
        self._app = app
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._buffer: list[RequestEntry | AppEntry] = []
        self._wake = asyncio.Event()
        self._db: Database | None = None
        self._own_db = False
        #: on SQLite the rows are built and inserted in a worker thread (see _ThreadWriter)
        self._writer: _ThreadWriter | None = None
        self._writing = asyncio.Lock()
        self._limits_of: tuple[Any, tuple[bool, int]] = (None, (False, 0))

    # ----- settings --------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return self._app.settings.data.get("logs") or {}

    def _limits(self) -> tuple[bool, int]:
        """(``maxDays`` > 0, ``minLevel``), read again only when the settings were replaced
        (an update swaps in a new dict): every request asks."""
        data = self._app.settings.data
        if self._limits_of[0] is not data:
            logs = data.get("logs") or {}
            enabled = int(logs.get("maxDays", 5) or 0) > 0
            self._limits_of = (data, (enabled, int(logs.get("minLevel", 0) or 0)))
        return self._limits_of[1]

    @property
    def enabled(self) -> bool:
        """Request logging is on unless ``logs.maxDays`` is 0."""
        return self._limits()[0]

    # ----- the hot path ----------------------------------------------------------------------
    def add(self, entry: RequestEntry | AppEntry) -> None:
        """Queue one entry (dropped when logging is off or below ``logs.minLevel``)."""
        enabled, min_level = self._limits()
        if not enabled or entry.level < min_level:
            return
        self._buffer.append(entry)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def pending(self) -> int:
        return len(self._buffer)

    # ----- storage ---------------------------------------------------------------------------
    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("app.logs is not open")
        return self._db

    async def open(self) -> None:
        """Open the logs database (``auxiliary.db`` beside ``data.db`` on SQLite) and create
        the table; registers the writer job and the cleanup cron job."""
        main = self._app.db
        if main.dialect == "sqlite":
            path = (Path(self._app.config.data_dir) / "auxiliary.db").resolve()
            self._db, self._own_db = Database(f"sqlite+aiosqlite:///{path}"), True
            await self._db.ping()
            self._writer = _ThreadWriter(path)
            await create_logs_table(self._db)
        else:  # the main database: system migration 7_logs made the table, under the runner's lock
            self._db = main
        self._app.cron.add(CLEANUP_JOB, "0 */6 * * *", self._cleanup)

    async def _cleanup(self) -> None:
        await self.prune()

    async def run(self) -> None:
        """The writer (an ``app.jobs`` job): flush every ``flush_interval`` or on a full batch."""
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands
            # as the wake-up is delivered, and app shutdown would wait for this job forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                if _cancelling():  # a driver turned the cancel into an error: stop all the same
                    raise asyncio.CancelledError from None
                _LOG.exception("could not write %d log entries", len(self._buffer))

    async def flush(self) -> int:
        """Write every buffered entry in one transaction; returns how many were written."""
        async with self._writing:
            batch, self._buffer = self._buffer, []
            if not batch or self._db is None:
                return 0
            settings = self._app.settings.data
            if self._writer is not None:
                # cancelling this await leaves the batch to the writer thread, which commits it
                return await self._writer.write(batch, settings)
            rows = log_rows(batch, settings)
            try:
                for attempt in range(1, ID_ATTEMPTS + 1):
                    try:
                        await insert_rows(self.db, rows)
                        break
                    except UniqueViolation:
                        if attempt == ID_ATTEMPTS:
                            raise
                        renew_ids(rows, batch)
            except asyncio.CancelledError:
                # stopped mid-write (the server is closing): the rolled-back batch goes back,
                # and close() writes it with the rest
                self._buffer[:0] = batch
                raise
            return len(rows)

    async def close(self) -> None:
        """Write what is left and close the logs database."""
        if self._db is None:
            return
        try:
            await self.flush()
        finally:
            if self._writer is not None:
                await self._writer.close()
                self._writer = None
            if self._own_db:
                await self._db.close()
            self._db = None

    async def prune(self, now: datetime | None = None) -> int:
        """Delete the rows older than ``logs.maxDays`` days (all of them when it is 0)."""
        days = int(self._settings().get("maxDays", 5) or 0)
        before = format_datetime((now or datetime.now(UTC)) - timedelta(days=days))
        db = self.db
        async with db.transaction() as conn:
            return await conn.execute(f"DELETE FROM {db.quote(TABLE)} WHERE {db.quote('created')} < :t", {"t": before})

    # ----- the logs API ----------------------------------------------------------------------
    async def list_page(self, query: ListQuery, info: RequestInfo) -> Page:
        q = query.normalised()
        binder = new_binder(self._app)
        where = ""
        if q.filter.strip():
            sql, _ = compile_condition(self._app, _META, q.filter, info, '"_r"', allow_hidden=True, is_filter=True, binder=binder)
            where = f" WHERE ({sql})"
        order = compile_order(self._app, _META, q.sort, info, '"_r"', binder) or _default_order(self.db.dialect)
        base = f'FROM {self.db.quote(TABLE)} AS "_r"{where}'
        cols = '"_r"."id", "_r"."created", "_r"."data", "_r"."message", "_r"."level"'
        rows = await self.db.fetch_all(f"SELECT {cols} {base}{order} LIMIT {int(q.per_page)} OFFSET {q.offset}", binder.params)
        total = -1 if q.skip_total else int(await self.db.fetch_value(f"SELECT COUNT(*) {base}", binder.params) or 0)
        pages = -1 if q.skip_total else (total + q.per_page - 1) // q.per_page
        return Page([_api_row(r) for r in rows], q.page, q.per_page, total, pages)

    async def view(self, log_id: str) -> dict[str, Any]:
        cols = '"id", "created", "data", "message", "level"'
        row = await self.db.fetch_one(f"SELECT {cols} FROM {self.db.quote(TABLE)} WHERE {self.db.quote('id')} = :id", {"id": log_id})
        if row is None:
            raise NotFound()
        return _api_row(row)

    async def stats(self, filter_expr: str, info: RequestInfo) -> list[dict[str, Any]]:
        """Rows per hour (``{total, date}``, oldest first), of the rows matching ``filter_expr``."""
        binder = new_binder(self._app)
        where = ""
        if filter_expr.strip():
            sql, _ = compile_condition(self._app, _META, filter_expr, info, '"_r"', allow_hidden=True, is_filter=True, binder=binder)
            where = f" WHERE ({sql})"
        hour = 'SUBSTR("_r"."created", 1, 13)'
        rows = await self.db.fetch_all(
            f'SELECT COUNT(*) AS "total", {hour} AS "hour" FROM {self.db.quote(TABLE)} AS "_r"{where} '
            f'GROUP BY {hour} ORDER BY {hour}', binder.params)  # fmt: skip
        return [{"total": int(r["total"]), "date": f"{r['hour']}:00:00.000Z"} for r in rows]


def _default_order(dialect: str) -> str:
    # SQLite returns rows in insertion (rowid) order, as PocketBase lists them; elsewhere the
    # creation time is the closest stable order
    return "" if dialect == "sqlite" else ' ORDER BY "_r"."created", "_r"."id"'


def _api_row(row: Any) -> dict[str, Any]:
    data = row["data"]
    if isinstance(data, (str, bytes)):
        data = orjson.loads(data) if data else {}
    return {"id": row["id"], "created": row["created"], "data": data, "message": row["message"], "level": int(row["level"])}


async def create_logs_table(db: Database) -> None:
    """Create ``_logs`` and its indexes when missing (PocketBase's columns on every database)."""
    q = db.quote
    t = q(TABLE)
    if db.dialect == "sqlite":
        data_type, text, key = "JSON DEFAULT '{}' NOT NULL", "TEXT DEFAULT '' NOT NULL", "TEXT PRIMARY KEY NOT NULL"
    elif db.dialect == "postgresql":
        data_type, text, key = "JSONB DEFAULT '{}' NOT NULL", "TEXT DEFAULT '' NOT NULL", "TEXT PRIMARY KEY NOT NULL"
    else:
        data_type, text, key = "JSON NOT NULL", "TEXT NOT NULL", "VARCHAR(255) PRIMARY KEY NOT NULL"
    created = "TEXT NOT NULL" if db.dialect != "mysql" else "VARCHAR(30) NOT NULL"
    async with db.transaction() as conn:
        await conn.execute_ddl(
            f"CREATE TABLE IF NOT EXISTS {t} ({q('id')} {key}, {q('level')} INTEGER DEFAULT 0 NOT NULL, "
            f"{q('message')} {text}, {q('data')} {data_type}, {q('created')} {created})"
        )
    if db.dialect == "mysql":
        existing = {r["INDEX_NAME"] for r in await db.fetch_all(
            "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
            {"t": TABLE})}  # fmt: skip
        for name, column in (("idx_logs_level", "level"), ("idx_logs_created", "created")):
            if name not in existing:
                async with db.transaction() as conn:
                    await conn.execute_ddl(f"CREATE INDEX {q(name)} ON {t} ({q(column)})")
        return
    async with db.transaction() as conn:
        for name, column in (("idx_logs_level", "level"), ("idx_logs_created", "created")):
            await conn.execute_ddl(f"CREATE INDEX IF NOT EXISTS {q(name)} ON {t} ({q(column)})")
    if db.dialect == "sqlite":  # every start opens auxiliary.db: one made by an earlier version loses it here
        await drop_message_index(db)


#: the index on ``message`` that earlier versions kept (PocketBase keeps it too), now dropped
MESSAGE_INDEX = "idx_logs_message"


async def drop_message_index(db: Database) -> None:
    """Drop the ``_logs`` index on ``message``, where it exists.

    Every request adds a row, and its message (method and URL, so a record's id or a query
    string) lands anywhere in that index: each row of a batch dirties another page of it, which
    goes through the WAL and back. With three million rows in ``auxiliary.db`` (a few days of a
    busy server) a row cost 14.8 µs of the writer's CPU with the index and 4.8 µs without it,
    against 6.3 µs in a fresh file. What the index sped up, an exact ``message = ...`` filter of
    the logs API, now reads the table (0.3 s for three million rows); a ``~`` filter, a filter on
    ``data``, the default order and the stats never used it. MySQL never had it.
    """
    if db.dialect == "mysql":
        return
    async with db.transaction() as conn:
        await conn.execute_ddl(f"DROP INDEX IF EXISTS {db.quote(MESSAGE_INDEX)}")


def renew_ids(rows: list[Row], batch: Sequence[RequestEntry | AppEntry]) -> None:
    """Give the rows of ``batch`` fresh ids, after one of theirs was already taken."""
    for i, log_id in enumerate(new_log_ids([e.created for e in batch])):
        rows[i] = (log_id, *rows[i][1:])


def log_rows(batch: Sequence[RequestEntry | AppEntry], settings: dict[str, Any]) -> list[Row]:
    """The rows of ``batch``, in one pass: the settings read once, each second formatted once."""
    ids = new_log_ids([e.created for e in batch])
    options, stamps, request = _RowOptions(settings), _Stamps(), RequestEntry
    rows: list[Row] = []
    for entry, log_id in zip(batch, ids, strict=True):
        if type(entry) is request:
            message, data = _request_data(entry, options)
            rows.append((log_id, entry.level, message, data, stamps(entry.created)))
        else:
            assert isinstance(entry, AppEntry)
            rows.append((log_id, entry.level, entry.message, entry.data, stamps(entry.created)))
    return rows


#: rows per INSERT statement on SQLite (5 parameters each, within any build's 999-variable limit)
INSERT_CHUNK = 100


@functools.lru_cache(maxsize=INSERT_CHUNK)
def _insert_values(rows: int) -> str:
    """One INSERT of ``rows`` rows: a batch goes in a few statements, each one step."""
    return 'INSERT INTO "_logs" ("id", "level", "message", "data", "created") VALUES ' + ", ".join(["(?, ?, ?, ?, ?)"] * rows)


def _without_nul(message: str, data: str) -> tuple[str, str]:
    """``message`` and ``data`` (JSON text) with each NUL replaced by U+FFFD."""
    return message.replace("\x00", "\ufffd"), orjson.dumps(_replace_nul(orjson.loads(data))).decode()


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_replace_nul(v) for v in value]
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    return value


class _ThreadWriter:
    """Writes batches to ``auxiliary.db`` on one worker thread with its own connection.

    Roost's SQLite driver runs statements on the event loop; a batch of a few hundred rows
    (and its index updates) would hold every request for milliseconds. sqlite3 releases the GIL
    while it writes, so here the write overlaps with serving. One thread keeps batches in order.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roost-logs")
        self._conn: sqlite3.Connection | None = None

    async def write(self, batch: Sequence[RequestEntry | AppEntry], settings: dict[str, Any]) -> int:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._write, batch, settings)

    def _write(self, batch: Sequence[RequestEntry | AppEntry], settings: dict[str, Any]) -> int:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        for attempt in range(1, ID_ATTEMPTS + 1):  # each attempt makes fresh ids
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert(self._conn, batch, settings)
            except sqlite3.IntegrityError:  # an id was taken: the only constraint a log row can break
                self._conn.execute("ROLLBACK")
                if attempt == ID_ATTEMPTS:
                    raise
                continue
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            break
        return len(batch)

    @staticmethod
    def _insert(conn: sqlite3.Connection, batch: Sequence[RequestEntry | AppEntry], settings: dict[str, Any]) -> None:
        # a few statements of many rows, not a step per row: sqlite3 lets go of the GIL at every
        # step, and the serving thread then had to hand it back for each row. Each statement's
        # rows are built just before it, so this thread holds the GIL for a chunk's rows at a
        # time (about 0.25 ms), never for a whole batch's (milliseconds: the event loop waited)
        dumps = orjson.dumps
        for start in range(0, len(batch), INSERT_CHUNK):
            rows = log_rows(batch[start : start + INSERT_CHUNK], settings)
            params: list[Any] = []
            for log_id, level, message, data, created in rows:
                params += (log_id, level, message, dumps(data).decode(), created)
            conn.execute(_insert_values(len(rows)), params)

    async def close(self) -> None:
        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()

        await asyncio.get_running_loop().run_in_executor(self._executor, close_connection)
        self._executor.shutdown(wait=True)


async def insert_rows(db: Database, rows: list[Row]) -> None:
    if db.dialect == "postgresql":
        await _insert_rows_pg(db, rows)
        return
    q = db.quote
    params = [{**_as_dict(row), "data": orjson.dumps(row[3]).decode()} for row in rows]
    async with db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO {q(TABLE)} ({q('id')}, {q('level')}, {q('message')}, {q('data')}, {q('created')}) "
            "VALUES (:id, :level, :message, :data, :created)",
            params,
        )


#: a batch of rows in one statement on PostgreSQL: one array per column, unnested
_PG_INSERT = (
    f'INSERT INTO "{TABLE}" ("id", "level", "message", "data", "created") '
    "SELECT i, l, m, CAST(d AS JSONB), c FROM unnest(CAST(:ids AS TEXT[]), CAST(:levels AS INTEGER[]), "
    "CAST(:messages AS TEXT[]), CAST(:data AS TEXT[]), CAST(:created AS TEXT[])) AS t(i, l, m, d, c)"
)


async def _insert_rows_pg(db: Database, rows: list[Row]) -> None:
    """The rows in one statement (its own transaction, no ``BEGIN``/``COMMIT`` round trips): the
    request log of a server on PostgreSQL is written on the event loop, and a statement per row
    (``executemany``) cost a few µs of it for every request served."""
    dumps = orjson.dumps
    ids: list[str] = []
    levels: list[int] = []
    messages: list[str] = []
    data: list[str] = []
    created: list[str] = []
    for log_id, level, message, values, stamp in rows:
        text = dumps(values).decode()
        if "\x00" in message or "\\u0000" in text:  # PostgreSQL stores no NUL in text or jsonb
            message, text = _without_nul(message, text)
        ids.append(log_id)
        levels.append(level)
        messages.append(message)
        data.append(text)
        created.append(stamp)
    async with db.transaction(one_statement=True) as conn:
        await conn.execute(_PG_INSERT, {"ids": ids, "levels": levels, "messages": messages, "data": data, "created": created})


class AppLogHandler(logging.Handler):
    """Sends the ``roost`` loggers' records to ``app.logs`` (PocketBase keeps its app log there too)."""

    _LEVELS = ((logging.ERROR, ERROR), (logging.WARNING, WARN), (logging.INFO, INFO))

    def __init__(self, logs: Logs) -> None:
        super().__init__(logging.INFO)
        self.logs = logs

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in NOT_APP_LOGS:
            return
        level = next((ours for py, ours in self._LEVELS if record.levelno >= py), DEBUG)
        data: dict[str, Any] = {"logger": record.name}
        if record.exc_info and record.exc_info[1] is not None:
            data["error"] = repr(record.exc_info[1])
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.logs.add(AppEntry(time.time(), level, message, data))


def capture_app_logs(handler: AppLogHandler) -> None:
    """Send the ``roost`` loggers' records to ``handler`` as well.

    A logger with a handler of its own no longer falls through to Python's last-resort stderr
    output, so where nothing configured logging (no root handler: ``roost serve``) warnings and
    errors keep reaching stderr through :data:`STDERR_FALLBACK`, as they did before.
    """
    logger = logging.getLogger("roost")
    logger.addHandler(handler)
    if not logging.getLogger().handlers and STDERR_FALLBACK not in logger.handlers:
        logger.addHandler(STDERR_FALLBACK)


def release_app_logs(handler: AppLogHandler) -> None:
    logger = logging.getLogger("roost")
    logger.removeHandler(handler)
    if not any(isinstance(h, AppLogHandler) for h in logger.handlers):
        logger.removeHandler(STDERR_FALLBACK)


#: what Python's last-resort handler would have printed: WARNING and above, to stderr
STDERR_FALLBACK = logging.StreamHandler()
STDERR_FALLBACK.setLevel(logging.WARNING)


__all__ = ["CLEANUP_JOB", "MESSAGE_INDEX", "STDERR_FALLBACK", "TABLE", "AppEntry", "AppLogHandler", "Logs", "RequestEntry", "capture_app_logs", "drop_message_index", "release_app_logs", "request_row", "request_url"]


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
