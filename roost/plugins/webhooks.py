"""Webhooks: signed HTTP notifications of record changes, configured as records of ``_webhooks``.

A superuser creates a ``_webhooks`` record (collection, events, url; a secret is generated when
none is given) with the ordinary records API or an SDK. After each committed create, update or
delete in that collection a delivery job goes on the app's job queue; the worker POSTs the JSON
event through the guarded outbound client (:mod:`roost.tools.security.outbound`), signed with
HMAC-SHA256, and retries network errors and non-2xx answers with backoff. Every attempt is a
``_webhookDeliveries`` record. An address the client refuses (loopback, private, link-local,
metadata) is logged as ``refused`` and not retried, unless the webhook has ``allowPrivate`` set.

Both collections are superuser-only system collections, created the first time a request
addresses them (or :func:`ensure_collections` is called), so data dirs that never use webhooks
keep PocketBase's list of collections. See ``docs/webhooks.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from roost.core.app import App
from roost.core.errors import FieldError, ValidationFailed
from roost.core.events import RecordEvent, RequestInfo, ServeEvent
from roost.core.queue import PermanentFailure, current_job
from roost.core.records.codec import codec_for
from roost.core.records.present import present_record
from roost.core.records.save import delete_by_id, fetch_record, save_new
from roost.core.schema.collection import BASE, Collection, default_collection_id
from roost.core.schema.fields.date import format_datetime, now_string
from roost.core.schema.system import autodate_fields, id_field, text_field
from roost.tools.security.outbound import AddressRefused, InvalidURL, Limits, OutboundError, fetch

log = logging.getLogger("roost.webhooks")

WEBHOOKS = "_webhooks"
DELIVERIES = "_webhookDeliveries"
JOB_KIND = "webhooks.deliver"
EVENTS = ("create", "update", "delete")
#: how long an instance trusts its list of webhooks; its own changes refresh it at once
CACHE_SECONDS = 5.0
#: delivery log entries older than this are deleted (hourly)
KEEP_DELIVERIES = timedelta(days=30)


def webhooks_collection() -> dict[str, Any]:
    return _system(WEBHOOKS, [
        text_field("name", required=False),
        text_field("collection"),
        {"type": "select", "name": "events", "system": True, "required": True, "maxSelect": 3, "values": list(EVENTS)},
        {"type": "url", "name": "url", "system": True, "required": True},
        {"type": "text", "name": "secret", "system": True, "required": True, "min": 16, "max": 255,
         "autogeneratePattern": "[a-zA-Z0-9]{40}"},
        {"type": "bool", "name": "disabled", "system": True},
        {"type": "bool", "name": "allowPrivate", "system": True},
    ])  # fmt: skip


def deliveries_collection() -> dict[str, Any]:
    number = {"type": "number", "system": True, "onlyInt": True}
    return _system(DELIVERIES, [
        text_field("webhook"), text_field("event"), text_field("action"), text_field("collection"),
        text_field("record", required=False), text_field("url"),
        {**number, "name": "attempt"}, text_field("status"), {"type": "bool", "name": "retry", "system": True},
        {**number, "name": "statusCode"}, text_field("error", required=False), {**number, "name": "duration"},
    ], [f"CREATE INDEX `idx_{DELIVERIES}_webhook` ON `{DELIVERIES}` (webhook)"])  # fmt: skip


def _system(
    name: str, fields: list[dict[str, Any]], indexes: list[str] | None = None
) -> dict[str, Any]:
    rules = dict.fromkeys(("listRule", "viewRule", "createRule", "updateRule", "deleteRule"))
    return {"id": default_collection_id(BASE, name), "name": name, "type": BASE, "system": True, **rules,
            "fields": [id_field(), *fields, *autodate_fields(True)], "indexes": indexes or []}  # fmt: skip


async def ensure_collections(app: App) -> tuple[Collection, Collection]:
    """``_webhooks`` and ``_webhookDeliveries``, created if missing."""
    return (
        await app.collections.ensure_system(WEBHOOKS, webhooks_collection, "webhooks_1"),
        await app.collections.ensure_system(
            DELIVERIES, deliveries_collection, "webhooks_2_deliveries"
        ),
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Roost-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _CollectionsOnFirstUse:
    """ASGI middleware: a request addressing the webhook collections creates them first."""

    def __init__(self, asgi: Any, *, app: App) -> None:
        self.asgi, self.app = asgi, app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/api/collections/_webhook" in scope.get("path", ""):
            await ensure_collections(self.app)
        await self.asgi(scope, receive, send)


class Webhooks:
    """The built-in webhooks plugin."""

    def __init__(
        self,
        *,
        max_attempts: int = 10,
        backoff: float = 5.0,
        limits: Limits | None = None,
        keep_deliveries: timedelta = KEEP_DELIVERIES,
    ) -> None:
        self.max_attempts, self.backoff, self.limits = max_attempts, backoff, limits or Limits()
        self.keep_deliveries = keep_deliveries
        self._cache: tuple[float, list[dict[str, Any]]] | None = None

    def register(self, app: App) -> None:
        for hook in app.hooks.records_committed():
            hook.bind(self._on_change)
        app.hooks.on_record_validate.for_collections(WEBHOOKS).bind(self._check_collection)
        app.hooks.on_serve.bind(self._on_serve)

        async def deliver(payload: dict[str, Any]) -> None:
            await self.deliver(app, payload)

        app.queue.register(JOB_KIND, deliver, max_attempts=self.max_attempts, backoff=self.backoff)

        async def prune_hourly() -> None:
            while True:
                try:
                    await self.prune(app)
                except Exception:
                    log.exception("webhooks: could not prune the delivery log")
                await asyncio.sleep(3600)

        app.jobs.add("webhooks.prune", prune_hourly)

    def commands(self) -> tuple[()]:
        return ()

    async def prune(self, app: App) -> int:
        """Delete delivery log entries older than ``keep_deliveries``; returns how many."""
        coll = app.collections.get(DELIVERIES)
        if coll is None:
            return 0
        before = format_datetime(datetime.now(UTC) - self.keep_deliveries)
        table, created = app.db.quote(DELIVERIES), app.db.quote("created")
        rows = await app.db.fetch_all(
            f"SELECT {app.db.quote('id')} FROM {table} WHERE {created} < :t", {"t": before}
        )
        for row in rows:
            await delete_by_id(app, coll, str(row["id"]))
        return len(rows)

    async def _on_serve(self, e: ServeEvent) -> None:
        e.router.add_middleware(_CollectionsOnFirstUse, app=e.app)
        await e.next()

    async def _check_collection(self, e: RecordEvent) -> None:
        target = e.app.collections.get(str(e.record.get("collection") or ""))
        if target is None or target.name in (WEBHOOKS, DELIVERIES) or target.is_view:
            raise ValidationFailed(data={"collection": FieldError(
                "validation_invalid_collection", "Name a base or auth collection that exists.")})  # fmt: skip
        await e.next()

    # ----- record changes -> delivery jobs --------------------------------------------------
    async def _on_change(self, e: RecordEvent) -> None:
        try:
            await self._enqueue_deliveries(e)
        except Exception:
            log.exception(
                "webhooks: could not queue deliveries for a %s in %s", e.action, e.collection.name
            )
        await e.next()

    async def _enqueue_deliveries(self, e: RecordEvent) -> None:
        coll = e.collection
        if coll.name == WEBHOOKS:
            self._cache = None
        if coll.name in (WEBHOOKS, DELIVERIES) or e.action not in EVENTS:
            return
        targets = [
            w
            for w in await self._webhooks(e.app)
            if w["collection"] in (coll.name, coll.id) and e.action in w["events"]
        ]
        if not targets:
            return
        superuser = RequestInfo(auth={}, auth_collection=e.app.collections.get("_superusers"))
        record = await present_record(e.app, coll, dict(e.record), superuser)
        for webhook in targets:
            event = {"id": secrets.token_hex(10), "event": e.action, "collection": coll.name,
                     "collectionId": coll.id, "record": record, "timestamp": now_string()}  # fmt: skip
            await e.app.queue.enqueue(JOB_KIND, {"webhook": webhook["id"], "event": event})

    async def _webhooks(self, app: App) -> list[dict[str, Any]]:
        """Enabled webhooks, cached for :data:`CACHE_SECONDS`."""
        if self._cache is not None and self._cache[0] > time.monotonic():
            return self._cache[1]
        coll = app.collections.get(WEBHOOKS)
        found: list[dict[str, Any]] = []
        if coll is not None:
            codec = codec_for(coll, app.dialect)
            rows = await app.db.fetch_all(f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r"')
            found = [record for record in map(codec.decode, rows) if not record.get("disabled")]
        self._cache = (time.monotonic() + CACHE_SECONDS, found)
        return found

    # ----- delivery (a queue job) -------------------------------------------------------------
    async def deliver(self, app: App, payload: dict[str, Any]) -> None:
        """Send one event to one webhook; raise to have the queue retry it."""
        webhooks, deliveries = await ensure_collections(app)
        webhook = await fetch_record(app, webhooks, payload["webhook"])
        if webhook is None or webhook.get("disabled"):
            return  # deleted or switched off since the change: nothing to send
        event = payload["event"]
        body = orjson.dumps(event)
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/json", "user-agent": "Roost-Webhooks",
            "x-roost-webhook": webhook["id"], "x-roost-event": event["event"], "x-roost-delivery": event["id"],
            "x-roost-timestamp": stamp, "x-roost-signature": sign(webhook["secret"], stamp, body),
        }  # fmt: skip
        import httpx  # loaded with the outbound client, on the first delivery

        allow = [httpx.URL(webhook["url"]).host] if webhook.get("allowPrivate") else []
        job = current_job()
        attempt = job.attempt if job else 1
        log_entry = {"webhook": webhook["id"], "event": event["id"], "action": event["event"],
                     "collection": event["collection"], "record": str(event["record"].get("id", "")),
                     "url": webhook["url"], "attempt": attempt}  # fmt: skip
        retry = job is not None and attempt < job.max_attempts
        started = time.monotonic()
        try:
            res = await fetch(
                "POST",
                webhook["url"],
                headers=headers,
                content=body,
                allow=allow,
                limits=self.limits,
            )
        except (AddressRefused, InvalidURL) as exc:
            await self._log(app, deliveries, log_entry, started, status="refused", error=str(exc))
            raise PermanentFailure(str(exc)) from exc
        except OutboundError as exc:
            await self._log(
                app, deliveries, log_entry, started, status="failed", error=str(exc), retry=retry
            )
            raise
        if 200 <= res.status_code < 300:
            await self._log(
                app, deliveries, log_entry, started, status="delivered", code=res.status_code
            )
            return
        error = f"the receiver answered {res.status_code}"
        await self._log(
            app,
            deliveries,
            log_entry,
            started,
            status="failed",
            code=res.status_code,
            error=error,
            retry=retry,
        )
        raise OutboundError(error)

    async def _log(
        self, app: App, deliveries: Collection, entry: dict[str, Any], started: float, *,
        status: str, code: int = 0, error: str = "", retry: bool = False,
    ) -> None:  # fmt: skip
        duration = int((time.monotonic() - started) * 1000)
        values = {
            **entry,
            "status": status,
            "statusCode": code,
            "error": error[:2000],
            "retry": retry,
            "duration": duration,
        }
        try:
            await save_new(app, deliveries, values)
        except Exception:
            log.exception("webhooks: could not log a delivery attempt of %s", entry["webhook"])
