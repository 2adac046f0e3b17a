"""The migrations runner: system migrations at bootstrap and the user's migration files, one
history table.

A migration is a file name and two functions of the app, ``up`` and ``down``. The user's are
Python files named ``<unix timestamp>_<name>.py`` in the migrations dir, each defining
``async def up(app)`` and ``async def down(app)``; Roost's own are listed in
:mod:`roost.migrations.system`. Every applied migration is a row of ``_migrations`` (``file``,
``applied`` in Unix microseconds), the table and columns PocketBase keeps, so a project moved
between the two reads the same history.

Each migration runs in one transaction with its history row: on SQLite and PostgreSQL a failing
``up`` leaves nothing behind, and the runner stops there. MySQL commits around every DDL
statement, so there a failure can leave the DDL of the statements before it in place (the
collection store undoes its own half-made table changes; raw SQL is not undone).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import time
import traceback
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.core.base import App
from roost.core.db.facade import Connection, DatabaseUnavailable
from roost.core.errors import RoostError

MigrationFn = Callable[[Any], Awaitable[None] | None]
#: the user's migration files: ``1712345678_create_posts.py``
FILE_PATTERN = re.compile(r"^(\d+)_(\w+)\.py$")
HISTORY_TABLE = "_migrations"
_HISTORY_DDL = 'CREATE TABLE IF NOT EXISTS "_migrations" ("file" VARCHAR(255) PRIMARY KEY NOT NULL, "applied" BIGINT NOT NULL)'


class MigrationError(Exception):
    """A migration could not be loaded, applied or reverted; ``str(exc)`` is one line naming the file."""


@dataclass(frozen=True)
class Migration:
    """One migration: its history name and what applies and reverts it (None = nothing to do)."""

    file: str
    up: MigrationFn | None
    down: MigrationFn | None = None


def load_dir(directory: Path) -> list[Migration]:
    """The migration files of ``directory`` in order (by timestamp, then name); none if it is missing.

    Raises:
        MigrationError: a file does not import, or defines no ``up``.
    """
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p.name, p) for p in directory.iterdir() if (m := FILE_PATTERN.match(p.name)) and p.is_file()]
    return [_load_file(path) for _, _, path in sorted(found)]


def _load_file(path: Path) -> Migration:
    module_name = f"roost_migration_{abs(hash(str(path.resolve())))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"{path.name}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # as an import would (dataclasses and typing look it up)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise MigrationError(f"{path.name}:{exc.lineno}: {exc.msg}") from exc
    except Exception as exc:  # the file's own code failed: report where
        raise MigrationError(f"{path.name}:{_line_in(exc, path)}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(module_name, None)
    up, down = getattr(module, "up", None), getattr(module, "down", None)
    if not callable(up):
        raise MigrationError(f"{path.name}: defines no `async def up(app)`")
    return Migration(path.name, up, down if callable(down) else None)


def _line_in(exc: BaseException, path: Path) -> int:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return (frames[-1].lineno or 0) if frames else 0


def is_user_file(name: str) -> bool:
    """Is ``name`` (a history row) one of the user's migration files, not a system migration?"""
    return FILE_PATTERN.match(name) is not None


def next_file(directory: Path, label: str) -> Path:
    """A new file path ``<timestamp>_<label>.py`` in ``directory`` that sorts after every file there.

    The timestamp is now, or one past the newest file's when that is not later (several changes
    in one second keep their order when replayed).
    """
    label = re.sub(r"\W+", "_", label).strip("_") or "migration"
    newest = 0
    if directory.is_dir():
        newest = max((int(m.group(1)) for p in directory.iterdir() if (m := FILE_PATTERN.match(p.name))), default=0)
    return directory / f"{max(int(time.time()), newest + 1)}_{label}.py"


def now_micro() -> int:
    return int(time.time() * 1_000_000)


class MigrationsRunner:
    """Applies and reverts ``migrations`` against ``app``, recording each in ``_migrations``."""

    def __init__(self, app: App, migrations: Sequence[Migration]) -> None:
        self.app = app
        self.migrations = list(migrations)

    async def ensure_history(self) -> None:
        """Create ``_migrations`` if the database has none."""
        async with self.app.db.transaction() as conn:
            await self._lock(conn)
            await conn.execute(_HISTORY_DDL.replace('"', "`") if conn.dialect == "mysql" else _HISTORY_DDL)

    async def applied(self) -> dict[str, int]:
        """Every history row, ``file -> applied`` (microseconds), system rows included."""
        rows = await self.app.db.fetch_all('SELECT "file", "applied" FROM "_migrations"')
        return {str(r["file"]): int(r["applied"]) for r in rows}

    async def pending(self) -> list[Migration]:
        done = await self.applied()
        return [m for m in self.migrations if m.file not in done]

    async def up(self) -> list[str]:
        """Apply every pending migration in order, each in its own transaction; the names applied.

        Raises:
            MigrationError: one failed; it was rolled back and the ones after it were not run.
        """
        await self.ensure_history()
        done: list[str] = []
        if not await self.pending():
            return done
        async with self._mysql_lock():
            for migration in await self.pending():
                async with self._step(migration, "apply") as conn:
                    if await conn.fetch_one('SELECT 1 FROM "_migrations" WHERE "file" = :f', {"f": migration.file}):
                        continue  # another process applied it meanwhile
                    await _call(migration.up, self.app)
                    await conn.execute('INSERT INTO "_migrations" ("file", "applied") VALUES (:f, :t)', {"f": migration.file, "t": now_micro()})
                done.append(migration.file)
        return done

    async def down(self, count: int = 1) -> list[str]:
        """Revert the ``count`` migrations of this runner applied last, newest first; the names reverted."""
        await self.ensure_history()
        by_file = {m.file: m for m in self.migrations}
        history = sorted(((t, f) for f, t in (await self.applied()).items() if f in by_file), reverse=True)
        reverted: list[str] = []
        async with self._mysql_lock():
            for _, file in history[: max(count, 0)]:
                migration = by_file[file]
                async with self._step(migration, "revert") as conn:
                    await _call(migration.down, self.app)
                    await conn.execute('DELETE FROM "_migrations" WHERE "file" = :f', {"f": file})
                reverted.append(file)
        return reverted

    async def history_sync(self, owns: Callable[[str], bool] = is_user_file) -> list[str]:
        """Drop the history rows that ``owns`` claims but that name no migration of this runner."""
        await self.ensure_history()
        known = {m.file for m in self.migrations}
        gone = sorted(f for f in await self.applied() if owns(f) and f not in known)
        if gone:
            async with self.app.db.transaction() as conn:
                for file in gone:
                    await conn.execute('DELETE FROM "_migrations" WHERE "file" = :f', {"f": file})
        return gone

    @asynccontextmanager
    async def _step(self, migration: Migration, verb: str) -> AsyncIterator[Connection]:
        """One migration's transaction. On failure the collection cache is reloaded from what was
        committed and the error becomes a :class:`MigrationError` naming the file."""
        try:
            async with self.app.db.transaction() as conn:
                await self._lock(conn)
                yield conn
        except DatabaseUnavailable:
            raise  # not the migration's fault: the caller reports the database
        except Exception as exc:
            await self._reload_collections()
            raise MigrationError(f"failed to {verb} {migration.file}: {describe(exc)}") from exc

    async def _reload_collections(self) -> None:
        with suppress(Exception):  # a fresh database may not have _collections yet
            await self.app.collections.load()

    @asynccontextmanager
    async def _mysql_lock(self) -> AsyncIterator[None]:
        """On MySQL, a named lock held on a connection of its own for the whole run: the history
        check cannot share a transaction with DDL there, which commits it."""
        if self.app.db.dialect != "mysql":
            yield
            return
        async with self.app.db.read() as conn:
            name = "CONCAT('roost_migrations:', DATABASE())"
            if await conn.fetch_value(f"SELECT GET_LOCK({name}, 600)") != 1:
                raise MigrationError("another process kept the migrations lock for 10 minutes")
            try:
                yield
            finally:
                await conn.fetch_value(f"SELECT RELEASE_LOCK({name})")

    async def _lock(self, conn: Connection) -> None:
        """Serialise runners of several processes on PostgreSQL (SQLite's write lock already does)."""
        if conn.dialect == "postgresql":
            key = zlib.crc32(f"roost_migrations:{self.app.config.db_schema}".encode())
            await conn.fetch_value("SELECT pg_advisory_xact_lock(:k)", {"k": key})


async def _call(fn: MigrationFn | None, app: App) -> None:
    if fn is None:
        return
    result = fn(app)
    if inspect.isawaitable(result):
        await result


def describe(exc: BaseException) -> str:
    """One line for an error: a Roost error's message with its field errors, else type and text."""
    if isinstance(exc, RoostError):
        details = "; ".join(
            f"{k}: {v.get('message', v) if isinstance(v, dict) else getattr(v, 'message', v)}" for k, v in (exc.data or {}).items()
        )
        return f"{exc.message} {details}".strip()
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
