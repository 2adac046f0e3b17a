"""The App hub: owns the database, the collection cache and settings; bootstraps a data dir."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from roost.config import Config
from roost.core import file_storage
from roost.core.auth import cleanup
from roost.core.auth.oauth2_redirect import TOPIC as OAUTH2_TOPIC
from roost.core.backups import Backups
from roost.core.backups import register as register_backups
from roost.core.cache.responses import ResponseCache
from roost.core.cluster import Cluster
from roost.core.collections.store import CollectionStore
from roost.core.cron import Cron
from roost.core.db.facade import Database
from roost.core.events import BootstrapEvent, ServeEvent, ServeRouter, TerminateEvent
from roost.core.hooks import Hooks
from roost.core.jobs import Jobs
from roost.core.logs import AppLogHandler, Logs, capture_app_logs, release_app_logs
from roost.core.mail import MailQueue, smtp_mailer
from roost.core.migrations import MigrationsRunner
from roost.core.pb_import import PocketBaseDataDir, is_pocketbase_dir, pocketbase_dir_message
from roost.core.queue import Queue
from roost.core.readiness import Readiness
from roost.core.realtime.routing import deliver_once
from roost.core.rules.engine import validate_rule
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import now_string
from roost.core.settings import Settings
from roost.core.settings_admin import reloaded
from roost.migrations.system import SYSTEM_MIGRATIONS
from roost.tools.cache import Cache, create_cache
from roost.tools.image import Thumbnailer
from roost.tools.mailer import Mailer
from roost.tools.metrics import create_metrics
from roost.tools.oauth2.runtime import OAuth2Runtime
from roost.tools.ratelimit import CounterStore, counter_store
from roost.tools.storage import LocalStorage, Storage
from roost.tools.store import Store, create_store
from roost.version import __version__


class App:
    """Everything a request needs, built once per process by the composition root."""

    def __init__(self, config: Config) -> None:
        self.config = config
        #: Prometheus metrics (a no-op set when ``config.metrics`` is off)
        self.metrics = create_metrics(config.metrics)
        self.db = Database(
            config.database_url, schema=config.db_schema, pool_size=config.pool_size, query_timeout=config.query_timeout,
            trace_sql=config.dev, metrics=self.metrics,
        )
        self.metrics.describe(__version__, self.db.dialect)
        #: every named hook (``app.hooks.on_record_create.bind(...)``); see ``roost.core.hooks``
        self.hooks = Hooks()
        self.collections = CollectionStore(self.db, self.hooks, self)
        self.settings = Settings(self.db, config.encryption_key)
        self.collections.rule_validator = lambda coll, rule: validate_rule(self, coll, rule)
        self.storage: Storage = LocalStorage(Path(config.data_dir) / "storage")
        file_storage.register(self)  # local, or S3 from the settings (switches on every reload)
        self.started = time.time()
        #: long-running background jobs, started by :meth:`serve`
        self.jobs = Jobs(self.metrics)
        #: cron jobs (``app.cron.add(id, expression, func)``), scheduled while the app serves
        self.cron = Cron(self.db, metrics=self.metrics)
        self.jobs.add("cron", self.cron.serve)
        cleanup.register(self)
        #: durable jobs with retries; its worker is a background job
        self.queue = Queue(self.db, metrics=self.metrics)
        self.jobs.add("queue", self.queue.run)
        #: request and app logs (``_logs``), written in batches by a background job
        self.logs = Logs(self)
        self.jobs.add("logs", self.logs.run)
        self._log_handler = AppLogHandler(self.logs)
        #: backups of the data and files (``__pbAutoBackup__`` follows ``backups.cron``)
        self.backups = Backups(self, self._reload_after_restore)
        register_backups(self, self.backups)
        #: short-lived shared state: resend throttles, OTP attempt counters
        self.store: Store = create_store(config.redis_url or config.hub_url)
        #: window counters of rate limits and login throttling
        self.counters: CounterStore = counter_store(config.redis_url or config.hub_url)
        #: the OAuth2 client side (HTTP settings, caches, redirect delivery)
        self.oauth2 = OAuth2Runtime(redirect_sink=_oauth2_redirect_to_realtime)
        #: set to deliver every mail through this mailer; None = SMTP from the settings
        self.mailer: Mailer | None = None
        self.mail = MailQueue(lambda: self.mailer or smtp_mailer(self.settings.data), metrics=self.metrics)
        #: image thumbs of uploaded files (``?thumb=``), made once each in worker threads
        self.thumbnailer = Thumbnailer()
        self._background: list[asyncio.Task[None]] = []
        #: broker, realtime hub and cross-process cache coherence
        self.cluster = Cluster(self)
        self.realtime = self.cluster.realtime
        #: is the database (and a cross-process broker) reachable? cached for the health check
        self.readiness = Readiness(self.db, lambda: self.cluster.broker)
        #: cached list and view responses (off unless ``cache_url`` is set)
        self.response_cache = ResponseCache(self, _cache_backend(config), config.cache_ttl)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def bootstrap(self) -> None:
        """Open the database, apply system migrations and load caches, as the final link of
        ``on_bootstrap`` (a handler that returns without ``next()`` leaves the app unopened)."""
        await self.hooks.on_bootstrap.trigger(BootstrapEvent(app=self), self._bootstrap)

    async def _bootstrap(self, event: BootstrapEvent) -> None:
        if self.db.dialect == "sqlite":
            if not self.config.db_url and is_pocketbase_dir(Path(self.config.data_dir)):
                raise PocketBaseDataDir(pocketbase_dir_message(Path(self.config.data_dir)))
            Path(self.config.data_dir).mkdir(parents=True, exist_ok=True)
        await self.db.ping()
        await asyncio.to_thread(self.backups.clear_temp)
        await MigrationsRunner(self, SYSTEM_MIGRATIONS).up()
        await self.collections.load()
        await self.settings.load()
        await reloaded(self)
        await self.logs.open()
        capture_app_logs(self._log_handler)
        self._start_background()
        await self.cluster.start()
        await self.response_cache.start(cross_process=self.cluster.broker.cross_process)

    async def _reload_after_restore(self) -> None:
        """Bring this process (and, through the broker, the others) in line with a restored
        database: PocketBase restarts its process here; Roost reloads in place."""
        await MigrationsRunner(self, SYSTEM_MIGRATIONS).up()
        await self.collections.load()
        await self.settings.load()
        await reloaded(self)
        await self.response_cache.invalidate(self.collections.all(), deletes=True)
        await self.cluster.announce_collections()

    async def serve(self, router: ServeRouter, start: Callable[[ServeEvent], Awaitable[None]]) -> None:
        """Fire ``on_serve`` (handlers add routes and middleware to ``router``); ``start`` is the
        chain's last step and builds the HTTP app. Then start the background jobs."""
        await self.hooks.on_serve.trigger(ServeEvent(app=self, router=router), start)
        self.jobs.start()

    def _start_background(self) -> None:
        self.mail.start()

    async def _stop_background(self) -> None:
        await self.mail.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()

    def find_collection(self, name_or_id: str) -> Collection | None:
        return self.collections.get(name_or_id)

    async def close(self) -> None:
        """Stop background work and close every connection, as the final link of ``on_terminate``."""
        await self.hooks.on_terminate.trigger(TerminateEvent(app=self), self._close)

    async def _close(self, event: TerminateEvent) -> None:
        await self.jobs.stop()
        await self.cron.stop()
        release_app_logs(self._log_handler)
        await self.logs.close()
        await self._stop_background()
        await self.response_cache.close()
        await self.cluster.close()
        await self.counters.close()
        closer = getattr(self.store, "close", None)
        if closer is not None:
            await closer()
        await self.db.close()
        self.metrics.fold()  # the last requests' numbers, for a scrape after this process ends


async def _oauth2_redirect_to_realtime(app: Any, client_id: str, message: dict[str, str], ip: str) -> bool:
    """Deliver a provider callback to the realtime client waiting on ``@oauth2``, in this
    process or the one that holds it; the client must have connected from the same IP."""
    return await deliver_once(app.realtime, client_id, OAUTH2_TOPIC, message, ip)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


__all__ = ["App", "now_string"]


def _cache_backend(config: Config) -> Cache | None:
    """The response cache's backend; ``memory://`` under workers joined by the embedded hub keeps
    bodies per process and the version counters on the hub (see ``roost.tools.cache.hub``)."""
    if not config.cache_url:
        return None
    if config.cache_url.startswith("memory://") and config.hub_url and not config.redis_url:
        return create_cache(config.hub_url)
    return create_cache(config.cache_url)
