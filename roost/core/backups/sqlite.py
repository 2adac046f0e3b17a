"""SQLite snapshots with SQLite's online backup API, and restores through it.

A snapshot copies every page of the live database inside one read transaction of a connection
of its own: writers go on (WAL), and the copy is the database as of one moment, never a file copy
of a database whose latest pages may still sit in its ``-wal`` file. A restore copies a validated
file into the live database the same way in reverse: one write transaction, so the other
connections see the old database or the new one, and a failure part-way leaves the old one.
Blocking functions: run them in a worker thread.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

#: how long a restore waits for the live database's write lock (Roost's writer commits often)
BUSY_MS = 30_000


class InvalidDatabase(Exception):
    """The file is not an intact Roost SQLite database."""


def snapshot(source: Path, dest: Path) -> None:
    """Copy the live database ``source`` into a new self-contained file ``dest``."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(dest)) as out:
        src.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        src.backup(out)  # all pages in one step: one read transaction, one moment
        out.execute("PRAGMA journal_mode = DELETE")  # no -wal beside the copy


def check_roost_database(path: Path) -> None:
    """Raise InvalidDatabase unless ``path`` is an intact SQLite file holding Roost's schema."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            verdict = conn.execute("PRAGMA quick_check").fetchone()
            columns = {row[1] for row in conn.execute('PRAGMA table_info("_collections")')}
    except sqlite3.Error as exc:
        raise InvalidDatabase(f"{path.name} is not a valid SQLite database: {exc}") from exc
    if not verdict or verdict[0] != "ok":
        raise InvalidDatabase(f"{path.name} failed SQLite's integrity check: {verdict[0] if verdict else ''}")
    if "data" not in columns:
        raise InvalidDatabase(f"{path.name} holds no Roost collections")


def restore_into(source: Path, live: Path) -> None:
    """Replace the content of the live database ``live`` with the database file ``source``.

    The copy runs as one write transaction on ``live``; open connections stay valid and see
    the restored database once it commits. ``source`` is modified first when its page size
    differs (a WAL database only accepts a backup of its own page size).
    """
    with closing(sqlite3.connect(live)) as dest:
        dest.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        page_size = dest.execute("PRAGMA page_size").fetchone()[0]
        with closing(sqlite3.connect(source, isolation_level=None)) as src:
            if src.execute("PRAGMA page_size").fetchone()[0] != page_size:
                src.execute("PRAGMA journal_mode = DELETE")
                src.execute(f"PRAGMA page_size = {int(page_size)}")
                src.execute("VACUUM")
            src.backup(dest)


def stored_settings(path: Path) -> str | None:
    """The stored ``_params`` settings value of a (checked) database file."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT value FROM _params WHERE id = 'settings'").fetchone()
        except sqlite3.Error:
            return None
    return str(row[0]) if row and row[0] else None
