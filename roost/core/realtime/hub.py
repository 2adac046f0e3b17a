"""Realtime: connected clients, their subscriptions, and fan-out of committed record changes.

Transports (SSE, WebSocket) live in ``roost.apis``; this module knows only clients with a
bounded outbox of ``(event name, data bytes)`` items. Record changes travel from
the after-success record hooks through the broker, so every process (and machine) attached to
the same broker delivers them to its own clients. See ``docs/realtime.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from roost.core.errors import Forbidden, NotFound, ServiceUnavailable
from roost.core.events import (
    RealtimeConnectRequestEvent,
    RealtimeSubscribeRequestEvent,
    RecordEvent,
    RequestInfo,
)
from roost.core.hooks import SYSTEM_PRIORITY
from roost.core.realtime.clients import (
    AUTH_MISMATCH,
    MISSING_CLIENT,
    REVOKED,
    Client,
    Subscription,
    new_client_id,
)
from roost.core.realtime.control import NODE_LENGTH, ControlChannel, random_text
from roost.core.realtime.dispatch import dispatch
from roost.core.realtime.topics import parse_subscription
from roost.core.rules.engine import KEY_OUT_OF_SCOPE
from roost.core.schema.api_keys import ApiKeyGrant
from roost.core.schema.collection import Collection
from roost.tools.broker import Broker, BrokerError

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.realtime")
#: the id the hub binds its after-success record handler under
HOOK_ID = "roost.realtime"
#: queued events handed to the broker in one publish at most
SEND_BATCH = 200
#: the broker message that ends the streams of a revoked API key
REVOKE_KEY = "revokeKey"
#: seconds a process keeps listening for other processes' events after its last client left
#: (a reconnecting client finds it still listening)
LINGER = 10.0


class RealtimeHub:
    """The clients of this process and the bridge between record events and the broker."""

    def __init__(self, app: App, broker: Broker, *, queue_size: int = 512, channel_prefix: str = "roost") -> None:
        self.app = app
        self.broker = broker
        self.queue_size = queue_size
        #: SSE streams close after this long without a message, and after ``max_lifetime``
        self.idle_timeout = 300.0
        self.max_lifetime = 1800.0
        #: a send that makes no progress for this long drops the client
        self.write_timeout = 10.0
        #: WebSocket heartbeat interval
        self.heartbeat = 30.0
        self.records_channel = f"{channel_prefix}.records"
        #: starts every client id of this process, so other processes can route requests here
        self.node = random_text(NODE_LENGTH)
        self.control = ControlChannel(broker, channel_prefix, self.node)
        self.clients: dict[str, Client] = {}
        self.dropped = 0
        self._index: dict[str, set[Subscription]] = {}
        #: (payload, arrived through a cross-process broker)
        self._events: asyncio.Queue[tuple[bytes, bool]] | None = None
        self.node_id = secrets.token_hex(8)
        #: how this process's own events end (``n`` is their last key): their copies that come
        #: back through the broker are dropped on arrival, before any parsing or queueing
        self._own_tail = b',"n":"' + self.node_id.encode() + b'"}'
        self._worker: asyncio.Task[None] | None = None
        self._unsubscribe: Any = None
        self._pending = 0
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._outgoing: asyncio.Queue[bytes] | None = None
        self._sender: asyncio.Task[None] | None = None
        self.closing = False
        #: listen on the record channel only while this process has clients, and publish only
        #: while another process listens (brokers that know their audience: the workers' hub)
        self._on_demand = False
        self._listening = asyncio.Lock()
        self._linger: asyncio.TimerHandle | None = None

    # ----- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for record events on the broker (idempotent)."""
        if self._worker is not None:
            return
        self._events = asyncio.Queue()
        self._on_demand = self.broker.cross_process and self.broker.knows_audience
        if not self._on_demand:
            self._unsubscribe = await self.broker.subscribe(self.records_channel, self._on_message)
        await self.control.start()
        self._worker = asyncio.create_task(self._dispatch_loop())
        self._outgoing = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop())
        for hook in self.app.hooks.records_committed():
            hook.bind(self.publish_record_event, id=HOOK_ID, priority=SYSTEM_PRIORITY)

    async def close(self) -> None:
        """Close every stream cleanly (the SDKs reconnect) and stop listening."""
        self.closing = True
        self.close_all("shutdown")
        for hook in self.app.hooks.records_committed():
            hook.unbind(HOOK_ID)
        await self._flush_outgoing()
        await self.control.close()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._unsubscribe is not None:
            await self._unsubscribe()
            self._unsubscribe = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def begin_shutdown(self) -> None:
        """Refuse new streams and end the open ones (the server is stopping)."""
        self.closing = True
        self.close_all("shutdown")

    def close_all(self, reason: str) -> None:
        for client in list(self.clients.values()):
            client.close(reason)

    # ----- clients ----------------------------------------------------------------------------
    def connect(self, ip: str = "") -> Client:
        """Register a client here (see :meth:`open_client`, which also makes sure this process
        hears other processes' events)."""
        client = Client(new_client_id(self.node), ip, self.queue_size)
        self.clients[client.id] = client
        self.app.metrics.realtime_connected()
        if self.closing:
            client.close("shutdown")
        return client

    async def open_client(self, info: RequestInfo, ip: str = "") -> Client:
        """Register a new stream's client through ``on_realtime_connect_request``; a handler that
        returns without ``e.next()`` refuses the stream (the client is closed at once)."""
        client = self.connect(ip)
        try:
            await self._listen()
        except BaseException:
            self.disconnect(client)
            raise
        hook = self.app.hooks.on_realtime_connect_request
        if not hook.handlers:
            return client
        accepted: list[bool] = []

        async def accept(event: RealtimeConnectRequestEvent) -> None:
            accepted.append(True)

        try:
            await hook.trigger(RealtimeConnectRequestEvent(app=self.app, info=info, client=client), accept)
        except BaseException:
            self.disconnect(client)
            raise
        if not accepted:
            client.close("refused")
        return client

    async def subscribe_request(
        self, info: RequestInfo, client: Client | None, topics: list[str], apply: Callable[[list[str]], Awaitable[None]]
    ) -> None:
        """Fire ``on_realtime_subscribe_request`` (``client`` is None when another process holds
        it); its final link hands the topics, as the handlers left them, to ``apply``."""
        if info.api_key is not None:
            self._check_key_scopes(info.api_key, topics)
        event = RealtimeSubscribeRequestEvent(app=self.app, info=info, client=client, subscriptions=topics)

        async def final(e: RealtimeSubscribeRequestEvent) -> None:
            await apply(e.subscriptions)

        await self.app.hooks.on_realtime_subscribe_request.trigger(event, final)

    def _check_key_scopes(self, grant: ApiKeyGrant, topics: list[str]) -> None:
        """A key subscribes only to collections its scopes let it list (``c/*``) or view (``c/id``)."""
        for topic in topics:
            name, _, rest = topic.split("?", 1)[0].partition("/")
            coll = self.app.collections.get(name)
            if coll is not None and not grant.allows(coll, "list" if rest in ("", "*") else "view"):
                raise Forbidden(KEY_OUT_OF_SCOPE)

    def disconnect(self, client: Client) -> None:
        client.close(client.close_reason or "disconnected")
        self._unindex(client, list(client.subscriptions.values()))
        client.subscriptions.clear()
        if self.clients.pop(client.id, None) is not None:
            self.app.metrics.realtime_disconnected(slow=client.close_reason == "slow consumer")
        if client.close_reason == "slow consumer":
            self.dropped += 1
        if self._on_demand and not self.clients and self._linger is None and self._unsubscribe is not None:
            self._linger = asyncio.get_running_loop().call_later(LINGER, self._stop_listening)

    async def _listen(self) -> None:
        """Subscribe to other processes' record events unless already subscribed; on a broker
        that knows its audience this returns once every other process publishes to this one."""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if not self._on_demand or self._unsubscribe is not None:
            return
        async with self._listening:
            if self._unsubscribe is None:
                try:
                    self._unsubscribe = await self.broker.subscribe(self.records_channel, self._on_message)
                except BrokerError as exc:
                    log.warning("realtime: cannot listen for other processes' events: %s", exc)
                    raise ServiceUnavailable() from exc

    def _stop_listening(self) -> None:
        self._linger = None
        if not self.clients and self._unsubscribe is not None and not self.closing:
            asyncio.get_running_loop().create_task(self._unlisten())

    async def _unlisten(self) -> None:
        async with self._listening:
            if not self.clients and self._unsubscribe is not None and not self.closing:
                unsubscribe, self._unsubscribe = self._unsubscribe, None
                with contextlib.suppress(BrokerError):
                    await unsubscribe()

    def get(self, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None or client.closed:
            raise NotFound(MISSING_CLIENT)
        return client

    @staticmethod
    def bind_auth(
        client: Client, auth: dict[str, Any] | None, auth_collection: Collection | None, session: str = ""
    ) -> None:
        """Attach the caller's auth; a different auth than the one already bound is refused."""
        if client.auth is not None and client.auth_collection is not None:
            same = (
                auth is not None
                and auth_collection is not None
                and auth_collection.id == client.auth_collection.id
                and auth.get("id") == client.auth.get("id")
            )
            if not same:
                raise Forbidden(AUTH_MISMATCH)
        client.auth, client.auth_collection = auth, auth_collection
        client.session = session if auth is not None else ""

    def set_subscriptions(self, client: Client, keys: list[str]) -> None:
        """Replace all of ``client``'s subscriptions."""
        self._unindex(client, list(client.subscriptions.values()))
        client.subscriptions = {}
        self.add_subscriptions(client, keys)

    def add_subscriptions(self, client: Client, keys: list[str]) -> None:
        for key in keys:
            if key in client.subscriptions:
                continue
            sub = parse_subscription(key, client)
            client.subscriptions[key] = sub
            self._index.setdefault(sub.topic, set()).add(sub)

    def remove_subscriptions(self, client: Client, keys: list[str]) -> None:
        gone = [client.subscriptions.pop(k) for k in keys if k in client.subscriptions]
        self._unindex(client, gone)

    def _unindex(self, client: Client, subs: list[Subscription]) -> None:
        for sub in subs:
            bucket = self._index.get(sub.topic)
            if bucket is not None:
                bucket.discard(sub)
                if not bucket:
                    del self._index[sub.topic]

    def send_to_client(self, client_id: str, name: str, data: bytes) -> bool:
        """Send one custom event to one local client (used by flows like the OAuth2 popup)."""
        client = self.clients.get(client_id)
        return client is not None and client.send(name, data)

    def matching(self, coll: Collection, record_id: str) -> list[Subscription]:
        """Subscriptions of this process that a change of ``coll``/``record_id`` concerns."""
        out: list[Subscription] = []
        for base in {coll.name, coll.id}:
            for topic in (f"{base}/*", base, f"{base}/{record_id}"):
                out.extend(s for s in self._index.get(topic, ()) if not s.client.closed)
        return out

    # ----- events -----------------------------------------------------------------------------
    async def publish_record_event(self, event: RecordEvent) -> None:
        """After-commit hook: queue the change for every process (the write does not wait).

        With a cross-process broker this process's own subscribers are served at once, without
        the broker round trip (and the scheduling of the broker and of this process it costs);
        the copy that comes back through the broker is recognised by ``n`` and skipped.
        """
        message = {"a": event.action, "c": event.collection.id, "r": event.record, "n": self.node_id}
        payload = orjson.dumps(message, default=str)
        if self.broker.cross_process and self._events is not None and self.clients:
            self._pending += 1
            self._events.put_nowait((payload, False))
        if self._outgoing is not None:
            self._outgoing.put_nowait(payload)
        await event.next()

    def end_api_key_streams(self, key_id: str) -> None:
        """Close the streams bound to a revoked API key, in every process (through the broker,
        like a record event, so it lands after the events published before it)."""
        payload = orjson.dumps({"a": REVOKE_KEY, "c": "", "r": key_id, "n": self.node_id})
        if self.broker.cross_process and self._events is not None:
            self._pending += 1
            self._events.put_nowait((payload, False))
        if self._outgoing is not None:
            self._outgoing.put_nowait(payload)

    def _close_key_streams(self, key_id: str) -> None:
        for client in list(self.clients.values()):
            if client.api_key is not None and client.api_key.id == key_id:
                client.close(REVOKED)

    async def _send_loop(self) -> None:
        """Publish queued events in order; those queued while a publish was in flight leave
        together (one round trip on Redis and PostgreSQL), so the broker keeps up with the
        writes instead of falling seconds behind them."""
        assert self._outgoing is not None
        while True:
            batch = [await self._outgoing.get()]
            while len(batch) < SEND_BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                if self._on_demand and not self._barriers and self.broker.audience(self.records_channel) == 0:
                    continue  # no other process has a client (each one's subscription waits for this one to know)
                await self.broker.publish_many(self.records_channel, batch)
            except Exception:
                log.exception("realtime publish failed; up to %d events lost", len(batch))
            finally:
                for _ in batch:
                    self._outgoing.task_done()

    async def _flush_outgoing(self, timeout: float = 5.0) -> None:
        """Publish what was committed before stopping, so other instances still deliver it."""
        if self._outgoing is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._outgoing.join()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    async def _on_message(self, payload: bytes) -> None:
        if self.broker.cross_process and payload.endswith(self._own_tail):
            return  # dispatched here when it was published
        if self._events is not None:
            self._pending += 1
            self._events.put_nowait((payload, self.broker.cross_process))

    async def _dispatch_loop(self) -> None:
        assert self._events is not None
        while True:
            payload, via_broker = await self._events.get()
            try:
                message = orjson.loads(payload)
                if via_broker and message.get("n") == self.node_id:
                    continue  # already dispatched here when it was published
                if message["a"] == REVOKE_KEY:
                    self._close_key_streams(str(message["r"]))
                    continue
                if message["a"] == "barrier":
                    waiter = self._barriers.pop(message["r"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                    continue
                if self.clients:  # everything a change does here concerns clients
                    await dispatch(self.app, self, message["a"], message["c"], message["r"])
            except Exception:
                log.exception("realtime dispatch failed")
            finally:
                self._pending -= 1

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every change this process published so far has been dispatched here.

        A marker travels the same broker path as the events, so this also covers the broker's
        round trip (for tests, and for callers that need read-your-writes on a subscription).
        """
        if self._outgoing is None:
            return
        if self._on_demand and self._unsubscribe is None:
            # a process without clients hears nothing back from the broker: its own events
            # were handed to the broker (or to nobody) and dispatched here
            async with asyncio.timeout(timeout):
                await self._outgoing.join()
                while self._pending:
                    await asyncio.sleep(0.005)
            return
        token = secrets.token_hex(8)
        waiter = self._barriers[token] = asyncio.get_running_loop().create_future()
        self._outgoing.put_nowait(orjson.dumps({"a": "barrier", "c": "", "r": token}))
        async with asyncio.timeout(timeout):
            await waiter
