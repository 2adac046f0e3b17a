"""Record import (a Roost extension): rows from a CSV or JSON lines stream, written in chunks.

Each row is one create (or, in ``upsert`` mode, an update of the record its ``id`` names) through
the request level of the pipeline, so the create rule, field validation, the request and model
hooks and the realtime events are those of ``POST .../records``. Rows are written ``chunk`` at
a time, each chunk in one transaction:

* by default a chunk holding a failing row is rolled back whole and the import stops there; every
  failing row of that chunk is reported, and the earlier chunks stay committed;
* with ``continue_on_error`` only the failing rows are left out (each row runs in a savepoint).

The report says how far the import got (``next_row``), so a client resumes with ``skip``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from roost.core.db.facade import Connection
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.records import requests
from roost.core.records.save import UNSUPPORTED, fetch_record
from roost.core.records.transfer import Row
from roost.core.rules.engine import require_rule
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

DEFAULT_CHUNK = 500
MAX_CHUNK = 5000
#: row errors kept in one report (the count in ``failed`` goes on)
MAX_REPORTED = 100
MODES = ("create", "upsert")
_savepoints = itertools.count()


@dataclass
class ImportOptions:
    chunk: int = DEFAULT_CHUNK
    #: data rows to pass over first (the ``next_row - 1`` of an earlier report)
    skip: int = 0
    mode: str = "create"
    continue_on_error: bool = False


@dataclass
class ImportReport:
    """How far an import got. ``next_row`` is the first row not written (None when all were)."""

    rows: int = 0
    skipped: int = 0
    committed: int = 0
    failed: int = 0
    chunks: int = 0
    next_row: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: why the import stopped early (a failing chunk, unreadable input), else ""
    stopped: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "skipped": self.skipped, "committed": self.committed, "failed": self.failed,
            "chunks": self.chunks, "nextRow": self.next_row, "errors": self.errors,
        }  # fmt: skip


class _ChunkFailed(Exception):
    """Raised inside a chunk's transaction to roll it back."""


def check_import(coll: Collection, info: RequestInfo, options: ImportOptions) -> None:
    """Refuse what no row could pass, before the body is read: views, locked rules, bad options."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    if options.mode not in MODES:
        raise BadRequest("Unknown import mode: use create or upsert.")
    if not 1 <= options.chunk <= MAX_CHUNK or options.skip < 0:
        raise BadRequest(f"The chunk must be between 1 and {MAX_CHUNK} and skip not negative.")
    require_rule(coll, "createRule", info)
    if options.mode == "upsert":
        require_rule(coll, "updateRule", info)


async def import_records(
    app: App, coll: Collection, rows: AsyncIterator[Row], info: RequestInfo, options: ImportOptions
) -> ImportReport:
    """Write ``rows`` as ``info``'s caller; unreadable input before the first commit raises."""
    check_import(coll, info, options)
    report = ImportReport()
    chunk: list[Row] = []
    try:
        async for row in rows:
            report.rows = row.number
            if row.number <= options.skip:
                report.skipped += 1
                continue
            chunk.append(row)
            if len(chunk) >= options.chunk:
                if not await _write_chunk(app, coll, chunk, info, options, report):
                    return report
                chunk = []
    except RoostError as exc:  # the input broke off: what was committed stays, and says so
        if not report.committed:
            raise
        report.stopped = exc.message
        report.next_row = chunk[0].number if chunk else report.rows + 1
        report.errors.append({"row": report.rows + 1, "code": _code(exc), "message": exc.message, "data": exc.data})
        return report
    if chunk:
        await _write_chunk(app, coll, chunk, info, options, report)
    return report


async def _write_chunk(
    app: App, coll: Collection, chunk: list[Row], info: RequestInfo, options: ImportOptions, report: ImportReport
) -> bool:
    """Write one chunk in one transaction; False (and the chunk rolled back) when it fails."""
    failures: list[dict[str, Any]] = []
    try:
        async with app.db.transaction() as conn:
            for row in chunk:
                failure = await _write_row(app, coll, row, info, options, conn)
                if failure is not None:
                    failures.append(failure)
            if failures and not options.continue_on_error:
                raise _ChunkFailed()
    except _ChunkFailed:
        report.failed += len(failures)
        report.errors.extend(failures[: max(0, MAX_REPORTED - len(report.errors))])
        report.next_row = chunk[0].number
        report.stopped = f"Failed to import row {failures[0]['row']}: the chunk from row {chunk[0].number} was not written."
        return False
    report.chunks += 1
    report.committed += len(chunk) - len(failures)
    report.failed += len(failures)
    report.errors.extend(failures[: max(0, MAX_REPORTED - len(report.errors))])
    return True


async def _write_row(
    app: App, coll: Collection, row: Row, info: RequestInfo, options: ImportOptions, conn: Connection
) -> dict[str, Any] | None:
    """Create (or upsert) one row in its own savepoint; the row's failure, or None."""
    if row.error is not None:
        return {"row": row.number, "code": row.error.code, "message": row.error.message, "data": {}}
    marks = len(conn.after_commit), len(conn.after_rollback)
    try:
        async with _savepoint(conn):
            await _apply(app, coll, row.values, replace(info, method="POST", body=row.values, context="import"), options)
    except RoostError as exc:
        del conn.after_commit[marks[0] :]  # no event for a row that was undone
        undo = conn.after_rollback[marks[1] :]
        del conn.after_rollback[marks[1] :]
        for callback in undo:
            await callback()
        return {"row": row.number, "code": _code(exc), "message": exc.message, "data": exc.data}
    return None


async def _apply(app: App, coll: Collection, values: dict[str, Any], info: RequestInfo, options: ImportOptions) -> None:
    record_id = values.get("id")
    if options.mode == "upsert" and isinstance(record_id, str) and record_id and await fetch_record(app, coll, record_id):
        info.method = "PATCH"
        await requests.update_record(app, coll, record_id, values, info)
    else:
        await requests.create_record(app, coll, values, info)


@asynccontextmanager
async def _savepoint(conn: Connection) -> AsyncIterator[None]:
    if conn.dialect != "mysql":
        async with conn.savepoint():
            yield
        return
    # the facade's savepoint is a no-op on MySQL (DDL would end it); a row import runs no DDL
    name = f"roost_import_{next(_savepoints)}"
    await conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        await conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    await conn.execute(f"RELEASE SAVEPOINT {name}")


def _code(exc: RoostError) -> str:
    return "validation_failed" if exc.data else exc.kind
