"""Roost's own migrations, applied by the runner at every bootstrap before anything else.

``1_initial_collections`` is the name data dirs made before the runner existed already carry in
``_migrations``, so they open as migrated. The system collections that features create on first
use (``2_totps``, ``3_passkeys``, ``4_authSessions``, see ``CollectionStore.ensure_system``)
record their rows in the same table; they stay lazy so a data dir that never uses a feature
keeps the schema it had.
"""

from __future__ import annotations

from typing import Any

from roost.core.auth.api_keys import create_table as create_api_keys_table
from roost.core.cron import create_claims_table
from roost.core.logs import create_logs_table, drop_message_index
from roost.core.migrations import Migration
from roost.core.queue import create_table as create_jobs_table
from roost.core.schema.system import initial_collections

_TABLES = (
    'CREATE TABLE IF NOT EXISTS "_collections" ("id" VARCHAR(255) PRIMARY KEY NOT NULL, "name" VARCHAR(255) NOT NULL, '
    '"type" VARCHAR(32) NOT NULL, "system" BOOLEAN NOT NULL, "data" TEXT NOT NULL, "created" VARCHAR(32) NOT NULL, '
    '"updated" VARCHAR(32) NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "_params" ("id" VARCHAR(255) PRIMARY KEY NOT NULL, "value" TEXT, '
    '"created" VARCHAR(32) NOT NULL, "updated" VARCHAR(32) NOT NULL)',
)


async def _create_initial_collections(app: Any) -> None:
    """The collection and settings tables, then ``_superusers``, ``users`` and the auth-owned
    system collections (any that already exist are left as they are)."""
    async with app.db.transaction() as conn:
        for sql in _TABLES:
            await conn.execute(sql.replace('"', "`") if conn.dialect == "mysql" else sql)
        await app.collections.load()
        for data in initial_collections():
            coll = app.collections.build(data)
            coll.system = bool(data.get("system"))
            if app.collections.get(coll.id) is None:
                await app.collections.save(coll, None, conn)


async def _create_logs_in_main_db(app: Any) -> None:
    """Request logs live in the main database on PostgreSQL and MySQL (``auxiliary.db`` on SQLite)."""
    if app.db.dialect != "sqlite":
        await create_logs_table(app.db)


async def _drop_logs_message_index(app: Any) -> None:
    """The request log of a PostgreSQL database made by an earlier version loses its index on
    ``message`` (see :func:`roost.core.logs.drop_message_index`); SQLite's ``auxiliary.db``
    drops it when it opens."""
    if app.db.dialect != "sqlite":
        await drop_message_index(app.db)


async def _in_transaction(app: Any, create: Any) -> None:
    async with app.db.transaction() as conn:
        await create(conn)


#: applied in this order at bootstrap; append new ones, never rename or reorder
SYSTEM_MIGRATIONS: list[Migration] = [
    Migration("1_initial_collections", _create_initial_collections),
    # 2-4 are the lazily created auth collections (see above)
    Migration("5_cron_claims", lambda app: create_claims_table(app.db)),
    Migration("6_jobs", lambda app: _in_transaction(app, create_jobs_table)),
    Migration("7_logs", _create_logs_in_main_db),
    Migration("8_api_keys", lambda app: _in_transaction(app, create_api_keys_table)),
    Migration("9_logs_without_message_index", _drop_logs_message_index),
]
