"""System collections that Roost adds beyond PocketBase's, created on first use.

A fresh data dir lists exactly PocketBase's system collections; an addition such as
``_totps`` or ``_authSessions`` appears only once its feature is used. Creation goes through
the collection store (DDL on every dialect) and is recorded in ``_migrations``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roost.core.collections import Collection

if TYPE_CHECKING:
    from roost.core.app import App

_locks: dict[str, asyncio.Lock] = {}


async def ensure_system_collection(
    app: App, name: str, definition: Callable[[], dict[str, Any]], migration: str
) -> Collection:
    """The collection ``name``, created from ``definition()`` (recorded as ``migration``) if missing."""
    found = app.collections.get(name)
    if found is not None:
        return found
    async with _locks.setdefault(name, asyncio.Lock()):
        found = app.collections.get(name)
        if found is not None:
            return found
        coll = app.collections.build(definition())
        coll.system = True
        try:
            async with app.db.transaction() as conn:
                await app.collections.save(coll, None, conn)
                done = await conn.fetch_one('SELECT 1 FROM "_migrations" WHERE "file" = :f', {"f": migration})
                if done is None:
                    await conn.execute(
                        'INSERT INTO "_migrations" ("file", "applied") VALUES (:f, :t)',
                        {"f": migration, "t": int(time.time() * 1_000_000)},
                    )
        except Exception:
            # another process created it first
            await app.collections.load()
        found = app.collections.get(name)
        if found is None:
            raise RuntimeError(f"system collection {name} could not be created")
        return found
