"""What ties the processes of one deployment together: the broker, realtime, and cache coherence.

Every process attaches to the same broker. Record events fan out through it (see
``realtime.py``), and a collection change in one process makes every other process reload its
collection cache.

Collection and settings changes need the broker: while it cannot be reached they answer 503
(nothing is written), because a change the other processes never hear of leaves them serving
the old schema against the new tables, or enforcing the old rules and settings. Two gaps
remain and are closed here: an announcement that fails after its change committed is retried
until the broker takes it, and a process whose subscription link was lost reloads collections
and settings when it comes back (pub/sub keeps nothing for it meanwhile). Under a server that installed its own SIGTERM/SIGINT handlers, those signals
first close the realtime streams cleanly so the SDKs reconnect elsewhere; SIGHUP reloads the
collection cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from typing import TYPE_CHECKING, Any

from roost.core.errors import ServiceUnavailable
from roost.core.events import SettingsReloadEvent
from roost.core.hooks import trigger_logged
from roost.core.realtime import routing as realtime_routing
from roost.core.realtime.hub import RealtimeHub
from roost.tools.broker import Broker, BrokerError, create_broker

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.cluster")
BROKER_DOWN = "Collection and settings changes are paused while the cluster's broker is unreachable. Please try again later."
#: seconds between attempts to announce a committed change the broker did not take
ANNOUNCE_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 5.0)
#: seconds a change waits for the other processes to say they reloaded before it answers anyway
#: (a process that died meanwhile never says so)
RELOAD_WAIT = 2.0


def broker_url_for(app: App) -> str:
    """Redis when configured, else PostgreSQL LISTEN/NOTIFY on a PostgreSQL database, else the
    embedded hub of ``roost serve``'s workers, else memory."""
    if app.config.redis_url:
        return app.config.redis_url
    url = app.config.db_url.strip()
    if app.dialect == "postgresql" and url.startswith(("postgresql://", "postgres://")):
        return url
    return app.config.hub_url


def channel_prefix(app: App) -> str:
    """Deployments sharing a broker stay apart by database schema."""
    return "roost." + (app.config.db_schema or "public")[:40]


class Cluster:
    """The broker of this process plus the realtime hub and collection-cache sync built on it."""

    def __init__(self, app: App, broker: Broker | None = None) -> None:
        self.app = app
        #: a broker passed in belongs to the caller and is not closed here
        self._owns_broker = broker is None
        self.broker = broker or create_broker(broker_url_for(app))
        prefix = channel_prefix(app)
        self.realtime = RealtimeHub(app, self.broker, channel_prefix=prefix)
        realtime_routing.install(self.realtime)
        self.collections_channel = f"{prefix}.collections"
        #: where the other processes say they reloaded after an announcement (its token)
        self.reloaded_channel = f"{prefix}.collections.reloaded"
        self.node_id = secrets.token_hex(8)
        self._unsubscribe: Any = None
        self._unsubscribe_reloaded: Any = None
        #: token of an announcement -> (its waiter, how many processes have not answered yet)
        self._expected: dict[str, list[Any]] = {}
        self._saved_signals: dict[int, Any] = {}
        self._announcer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.broker.start()
        self._unsubscribe = await self.broker.subscribe(self.collections_channel, self._on_collections)
        if self.broker.cross_process:
            self._unsubscribe_reloaded = await self.broker.subscribe(self.reloaded_channel, self._on_reloaded)
        self.broker.on_reconnect(self._reload)
        for store in (self.app.collections, self.app.settings):
            store.on_change = self.announce_collections
            store.before_change = self.require_broker
        await self.realtime.start()
        self._wrap_signals()

    async def require_broker(self) -> None:
        """Raise ServiceUnavailable (503) unless the other processes can be told of a change now."""
        if not self.broker.cross_process:
            return
        try:
            await self.broker.ping()
        except BrokerError as exc:
            log.warning("collection or settings change refused: %s", exc)
            raise ServiceUnavailable(BROKER_DOWN) from exc

    async def announce_collections(self) -> None:
        """Tell the other processes that collection definitions or settings changed.

        Runs after the change committed, so a broker failure here is not the client's: the
        announcement is retried in the background and the request succeeds. On a broker that
        can count who listens (the workers' hub, Redis) it returns once every other process has
        reloaded, so the client's next request sees the change whichever worker or instance
        answers it (at most ``RELOAD_WAIT``).
        """
        token = secrets.token_hex(8)
        others = await self.broker.listeners(self.collections_channel) if self._unsubscribe_reloaded else None
        waiter: asyncio.Future[None] | None = None
        if others:
            waiter = asyncio.get_running_loop().create_future()
            self._expected[token] = [waiter, others]
        try:
            await self.broker.publish(self.collections_channel, f"{self.node_id}:{token}".encode())
        except BrokerError as exc:
            self._expected.pop(token, None)
            log.warning("collection change not announced yet (%s); retrying", exc)
            if self._announcer is None or self._announcer.done():
                self._announcer = asyncio.get_running_loop().create_task(self._announce_until_taken())
            return
        if waiter is not None:
            try:
                async with asyncio.timeout(RELOAD_WAIT):
                    await waiter
            except TimeoutError:
                log.warning("collection change: not every process said it reloaded within %.0f s", RELOAD_WAIT)
            finally:
                self._expected.pop(token, None)

    async def _announce_until_taken(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(ANNOUNCE_RETRY_DELAYS[min(attempt, len(ANNOUNCE_RETRY_DELAYS) - 1)])
            attempt += 1
            with contextlib.suppress(BrokerError):
                await self.broker.publish(self.collections_channel, self.node_id.encode())
                log.info("collection change announced after %d retries", attempt)
                return

    async def _on_collections(self, payload: bytes) -> None:
        node, _, token = payload.decode(errors="replace").partition(":")
        if node == self.node_id:
            return
        await self._reload()
        if token and self.broker.cross_process:
            with contextlib.suppress(BrokerError):
                await self.broker.publish(self.reloaded_channel, token.encode())

    async def _on_reloaded(self, payload: bytes) -> None:
        entry = self._expected.get(payload.decode(errors="replace"))
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0 and not entry[0].done():
                entry[0].set_result(None)

    async def _reload(self) -> None:
        await self.app.collections.load()
        await self.app.settings.load()
        await trigger_logged(self.app.hooks.on_settings_reload, SettingsReloadEvent(app=self.app))

    async def close(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcer
        self._restore_signals()
        await self.realtime.close()
        if self._unsubscribe_reloaded is not None:
            await self._unsubscribe_reloaded()
            self._unsubscribe_reloaded = None
        if self._unsubscribe is not None:
            await self._unsubscribe()
            self._unsubscribe = None
        if self._owns_broker:
            await self.broker.close()

    # ----- signals ------------------------------------------------------------------------------
    def _wrap_signals(self) -> None:
        """Chain onto a server's own shutdown handlers; leave default handlers alone."""
        current = signal.getsignal(signal.SIGTERM)
        if not callable(current) or current in (signal.default_int_handler,):
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue
            self._saved_signals[sig] = previous

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.realtime.begin_shutdown)
                previous(signum, frame)

            signal.signal(sig, handler)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.app.collections.load()))

    def _restore_signals(self) -> None:
        for sig, previous in self._saved_signals.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, previous)
        self._saved_signals.clear()
