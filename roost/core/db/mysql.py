"""MySQL and MariaDB specifics of the SQLAlchemy driver (asyncmy).

Core writes one SQL for every database: double-quoted identifiers, ``||`` concatenation,
``ESCAPE '\\'`` and exact text comparison. Each MySQL session is therefore set up so that this
SQL means what it means on SQLite:

* ``sql_mode`` adds ``ANSI_QUOTES``, ``PIPES_AS_CONCAT``, ``NO_BACKSLASH_ESCAPES`` and strict
  mode (``STRICT_ALL_TABLES``);
* the connection and every table use utf8mb4 with a binary *no-pad* collation, so ``=`` is
  case-sensitive and ``'a' = 'a '`` is false, and text sorts by code point as in SQLite;
* the session time zone is UTC (``FROM_UNIXTIME`` in filters);
* transactions run at READ COMMITTED, as PostgreSQL's default, which keeps InnoDB's gap locks
  out of concurrent record writes;
* ``sql_notes`` is off: Roost's schema statements are idempotent by design (``CREATE TABLE IF
  NOT EXISTS`` on every start), and the server's "already exists" *notes* about them would
  otherwise reach stderr through the driver as warnings. Real warnings are still recorded.
"""

from __future__ import annotations

import re
from typing import Any

from roost.tools.filter.dialect_mysql import COLLATION

SQL_MODE = "ANSI_QUOTES,PIPES_AS_CONCAT,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"
SESSION_SETUP = f"SET SESSION sql_mode = '{SQL_MODE}', time_zone = '+00:00', sql_notes = 0, NAMES utf8mb4 COLLATE {COLLATION}"
DUPLICATE_ENTRY = 1062
_DUPLICATE_KEY = re.compile(r"Duplicate entry .* for key '(?:[^']*\.)?([^'.]+)'", re.S)


def engine_options() -> dict[str, Any]:
    """Keyword arguments for ``create_async_engine`` on a MySQL URL."""
    return {
        "connect_args": {"charset": "utf8mb4", "init_command": SESSION_SETUP},
        "isolation_level": "READ COMMITTED",
        "pool_recycle": 3600,
    }


def restore_collation(dbapi_connection: Any, _record: Any) -> None:
    """Give a new connection Roost's collation back (a pool ``connect`` listener).

    SQLAlchemy's MySQL dialects send ``SET NAMES utf8mb4`` on connect, after the driver ran
    ``init_command``: that resets the connection collation to ``utf8mb4_general_ci``, and two
    request values (``@request.auth.id > '_'``) would then compare case-insensitively.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET NAMES utf8mb4 COLLATE {COLLATION}")
    cursor.close()


def collation_statements(current: str) -> list[str]:
    """Make the database's default collation Roost's, so new tables and columns inherit it."""
    if current == COLLATION:
        return []
    return [f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {COLLATION}"]


def duplicate_key(orig: BaseException | None) -> str | None:
    """The index name of a duplicate-entry error (``PRIMARY`` for the primary key), else None."""
    args = getattr(orig, "args", ())
    if not args or args[0] != DUPLICATE_ENTRY:
        return None
    match = _DUPLICATE_KEY.search(str(args[1]) if len(args) > 1 else "")
    return match.group(1) if match else ""
