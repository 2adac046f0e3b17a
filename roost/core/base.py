"""The App protocol: what core services need from an app, declared in one low module.

Services take an ``App`` and use only what is declared here, so none of them depends on the
concrete app (:class:`roost.core.app.App`), which builds these parts and is itself built only
by the composition root (:class:`roost.Roost`). Per-app state that a feature keeps (login
counters, the OAuth2 client runtime) is declared here too, instead of being hung on the app
from outside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from roost.config import Config
from roost.core.collections.store import CollectionStore
from roost.core.db.facade import Database
from roost.core.hooks import Hooks
from roost.core.mail import MailQueue
from roost.core.schema.collection import Collection
from roost.core.settings import Settings
from roost.tools.image import Thumbnailer
from roost.tools.mailer import Mailer
from roost.tools.metrics import Metrics
from roost.tools.oauth2.runtime import OAuth2Runtime
from roost.tools.ratelimit import CounterStore
from roost.tools.storage import Storage
from roost.tools.store import Store


class CacheInvalidator(Protocol):
    """The part of the response cache that writes outside the record pipeline reach."""

    async def invalidate(self, collections: Iterable[Collection], *, deletes: bool = False) -> None: ...


class CronEntry(Protocol):
    """A registered cron job, as it is listed."""

    @property
    def id(self) -> str: ...

    @property
    def expression(self) -> str: ...


class CronJobs(Protocol):
    """The app's cron jobs (:class:`roost.core.cron.Cron`)."""

    def add(self, job_id: str, expression: str, func: Callable[[], Awaitable[None] | None]) -> None: ...

    def remove(self, job_id: str) -> None: ...

    def jobs(self) -> Sequence[CronEntry]: ...

    async def run(self, job_id: str) -> None: ...

    def trigger(self, job_id: str) -> None: ...


class JobQueue(Protocol):
    """The durable job queue (:class:`roost.core.queue.Queue`): work kept off the request path."""

    def register(
        self,
        kind: str,
        handler: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        max_attempts: int = ...,
        backoff: float | Callable[[int], float] = ...,
        timeout: float = ...,
    ) -> None: ...

    async def enqueue(self, kind: str, payload: dict[str, Any], *, delay: float = 0.0) -> str: ...


class App(Protocol):
    """An app as core services see it."""

    config: Config
    db: Database
    #: collection definitions: the in-memory cache and their persistence
    collections: CollectionStore
    #: runtime settings (``_params``), PocketBase's keys
    settings: Settings
    #: uploaded files
    storage: Storage
    #: makes image thumbs once each, off the event loop
    thumbnailer: Thumbnailer
    #: short-lived shared state: resend throttles, OTP attempt counters
    store: Store
    #: window counters of rate limits and login throttling (Redis-backed in a cluster)
    counters: CounterStore
    #: the outgoing mail queue, and the mailer that overrides SMTP from the settings
    mail: MailQueue
    mailer: Mailer | None
    #: the OAuth2 client side: HTTP settings, caches, the realtime redirect sink
    oauth2: OAuth2Runtime
    #: every named hook: core fires them, the realtime hub, the response cache and user code bind to them
    hooks: Hooks
    #: start time (``time.time()``)
    started: float
    #: Prometheus metrics: the services record into it, ``GET /api/metrics`` reads it
    metrics: Metrics

    @property
    def cron(self) -> CronJobs:
        """Functions run on a cron schedule, once per tick across the cluster."""
        ...

    @property
    def response_cache(self) -> CacheInvalidator:
        """Cached list and view responses."""
        ...

    @property
    def queue(self) -> JobQueue:
        """Durable jobs with retries: ``queue.register(kind, handler)``, ``await queue.enqueue(kind, payload)``."""
        ...

    @property
    def dialect(self) -> str:
        """The database dialect: ``sqlite``, ``postgresql`` or ``mysql``."""
        ...
