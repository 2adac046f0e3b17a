"""The App hub: owns the database, the collection cache and settings; bootstraps a data dir."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from roost.config import Config
from roost.core.collection_store import CollectionStore
from roost.core.collections import Collection
from roost.core.db import Database
from roost.core.events import RecordEvent
from roost.core.fields.date import now_string
from roost.core.hooks import Hook
from roost.core.mail import MailQueue, smtp_mailer
from roost.core.realtime_cluster import Cluster
from roost.core.response_cache import ResponseCache
from roost.core.rules import validate_rule
from roost.core.settings import Settings
from roost.core.system_collections import initial_collections
from roost.tools.cache import create_cache
from roost.tools.mailer import Mailer
from roost.tools.storage import LocalStorage, Storage
from roost.tools.store import Store, create_store

SYSTEM_TABLES = (
    'CREATE TABLE IF NOT EXISTS "_migrations" ("file" VARCHAR(255) PRIMARY KEY NOT NULL, "applied" BIGINT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "_collections" ("id" VARCHAR(255) PRIMARY KEY NOT NULL, "name" VARCHAR(255) NOT NULL, '
    '"type" VARCHAR(32) NOT NULL, "system" BOOLEAN NOT NULL, "data" TEXT NOT NULL, "created" VARCHAR(32) NOT NULL, '
    '"updated" VARCHAR(32) NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "_params" ("id" VARCHAR(255) PRIMARY KEY NOT NULL, "value" TEXT, '
    '"created" VARCHAR(32) NOT NULL, "updated" VARCHAR(32) NOT NULL)',
)


class App:
    """Everything a request needs, built once per process by the composition root."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(
            config.database_url, schema=config.db_schema, pool_size=config.pool_size, query_timeout=config.query_timeout
        )
        self.collections = CollectionStore(self.db)
        self.settings = Settings(self.db, config.encryption_key)
        self.collections.rule_validator = lambda coll, rule: validate_rule(self, coll, rule)
        self.storage: Storage = LocalStorage(Path(config.data_dir) / "storage")
        self.started = time.time()
        #: after-commit record changes (realtime, webhooks and user code subscribe here)
        self.on_record_after_commit: Hook[RecordEvent] = Hook("on_record_after_commit")
        #: short-lived shared state: resend throttles, OTP attempt counters
        self.store: Store = create_store(config.redis_url)
        #: set to deliver every mail through this mailer; None = SMTP from the settings
        self.mailer: Mailer | None = None
        self.mail = MailQueue(lambda: self.mailer or smtp_mailer(self.settings.data))
        self._background: list[asyncio.Task[None]] = []
        #: broker, realtime hub and cross-process cache coherence
        self.cluster = Cluster(self)
        self.realtime = self.cluster.realtime
        #: cached list and view responses (off unless ``cache_url`` is set)
        self.response_cache = ResponseCache(self, create_cache(config.cache_url) if config.cache_url else None, config.cache_ttl)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def bootstrap(self) -> None:
        """Open the database, apply system migrations and load caches."""
        if self.db.dialect == "sqlite":
            Path(self.config.data_dir).mkdir(parents=True, exist_ok=True)
        await self.db.ping()
        async with self.db.transaction() as conn:
            for sql in SYSTEM_TABLES:
                await conn.execute(_for_dialect(sql, conn.dialect))
        await self.collections.load()
        applied = {r["file"] for r in await self.db.fetch_all('SELECT "file" FROM "_migrations"')}
        if "1_initial_collections" not in applied:
            await self._create_initial_collections()
        await self.settings.load()
        self._start_background()
        await self.cluster.start()
        await self.response_cache.start()

    async def _create_initial_collections(self) -> None:
        async with self.db.transaction() as conn:
            for data in initial_collections():
                coll = self.collections.build(data)
                coll.system = bool(data.get("system"))
                if self.collections.get(coll.id) is None:
                    await self.collections.save(coll, None, conn)
            await conn.execute(
                'INSERT INTO "_migrations" ("file", "applied") VALUES (:f, :t)',
                {"f": "1_initial_collections", "t": int(time.time() * 1_000_000)},
            )

    def _start_background(self) -> None:
        from roost.core.auth.cleanup import run_periodically

        self.mail.start()
        if not self._background:
            self._background.append(asyncio.get_running_loop().create_task(run_periodically(self)))

    async def _stop_background(self) -> None:
        await self.mail.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()

    def find_collection(self, name_or_id: str) -> Collection | None:
        return self.collections.get(name_or_id)

    async def close(self) -> None:
        await self._stop_background()
        await self.response_cache.close()
        await self.cluster.close()
        closer = getattr(self.store, "close", None)
        if closer is not None:
            await closer()
        await self.db.close()


def _for_dialect(sql: str, dialect: str) -> str:
    if dialect == "mysql":
        return sql.replace('"', "`")
    return sql


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


__all__ = ["App", "now_string"]
