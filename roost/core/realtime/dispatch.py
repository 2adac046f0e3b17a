"""Fan-out of one record change: group subscribers, evaluate each group once, serialise once.

Subscribers are grouped by (rule, auth, options). A group shares one rule/filter evaluation and
one serialised payload, so a thousand guests on ``posts/*`` cost one check and one
``orjson.dumps``. Rules are evaluated against the values carried by the event (a literal row),
so a delete is judged on the record as it was before it was removed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from roost.core.db.facade import quote_ident
from roost.core.errors import RoostError
from roost.core.events import RealtimeMessageEvent, RequestInfo
from roost.core.realtime.clients import REVOKED, Client, Subscription
from roost.core.records.codec import Record, codec_for
from roost.core.records.present import present_record
from roost.core.records.queries import guard_user_expression
from roost.core.rules.engine import compile_condition, new_binder
from roost.core.rules.superuser_roles import superuser_reaches
from roost.core.schema.collection import Collection
from roost.core.schema.system import AUTH_SESSIONS

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.realtime")


class Subscribers(Protocol):
    """What dispatching needs of the hub (:class:`roost.core.realtime.hub.RealtimeHub`)."""

    clients: dict[str, Client]

    def matching(self, coll: Collection, record_id: str) -> list[Subscription]: ...
ALIAS = '"_r"'


async def dispatch(app: App, hub: Subscribers, action: str, collection_id: str, record: Record) -> None:
    coll = app.collections.get(collection_id)
    if coll is None:
        await app.collections.load()  # created in another process moments ago
        coll = app.collections.get(collection_id)
        if coll is None:
            return
    if coll.is_auth:
        _refresh_bound_auth(hub, coll, action, record)
    elif coll.name == AUTH_SESSIONS and action == "delete":
        _end_session_streams(hub, str(record.get("id", "")))
    subs = hub.matching(coll, str(record.get("id", "")))
    if not subs:
        return
    groups: dict[tuple[Any, ...], list[Subscription]] = {}
    for sub in subs:
        rule = coll.rule(sub.rule_name)
        groups.setdefault((rule, sub.client.auth_key(), sub.options_key), []).append(sub)
    payloads: dict[tuple[Any, ...], bytes] = {}
    for (rule, auth_key, options_key), members in groups.items():
        info = request_info(members[0])
        if await _visible(app, coll, record, rule, members[0].query.get("filter", ""), info):
            cache_key = (auth_key, options_key)
            data = payloads.get(cache_key)
            if data is None:
                data = payloads[cache_key] = await serialise(app, hub, coll, record, action, members[0], info)
            if app.hooks.on_realtime_message_send.handlers:
                await _deliver_through_hook(app, members, data, record, action)
            else:
                app.metrics.realtime_sent(*_deliver(members, data, record, action))
        elif action == "update":
            app.metrics.realtime_sent(*_deliver_leave(members, coll, record))


def request_info(sub: Subscription) -> RequestInfo:
    """What the rules see for one subscription: its client's auth and its options."""
    client: Client = sub.client
    return RequestInfo(
        auth=client.auth,
        auth_collection=client.auth_collection,
        api_key=client.api_key,
        method="GET",
        query=dict(sub.query),
        headers=dict(sub.headers),
        context="realtime",
        ip=client.ip,
    )


def _deliver(members: list[Subscription], data: bytes, record: Record, action: str, name: str = "") -> tuple[int, int]:
    """Send to each member; returns (delivered, dropped) message counts."""
    record_id = str(record.get("id", ""))
    dropped = 0
    for sub in members:
        if not sub.client.send(name or sub.key, data):
            dropped += 1
        elif sub.seen is not None:
            if action == "delete":
                sub.seen.pop(record_id, None)
            else:
                sub.remember(record_id)
    return len(members) - dropped, dropped


async def _deliver_through_hook(app: App, members: list[Subscription], data: bytes, record: Record, action: str) -> None:
    """:func:`_deliver`, one ``on_realtime_message_send`` chain per subscriber (handlers may change
    the message, or drop it by returning without ``e.next()``)."""
    for sub in members:

        async def send(event: RealtimeMessageEvent, sub: Subscription = sub) -> None:
            app.metrics.realtime_sent(*_deliver([sub], event.data, record, action, event.name))

        await app.hooks.on_realtime_message_send.trigger(RealtimeMessageEvent(app=app, client=sub.client, name=sub.key, data=data), send)


def _deliver_leave(members: list[Subscription], coll: Collection, record: Record) -> tuple[int, int]:
    record_id = str(record.get("id", ""))
    data: bytes | None = None
    delivered = dropped = 0
    for sub in members:
        if sub.seen is None or record_id not in sub.seen:
            continue
        del sub.seen[record_id]
        if data is None:
            ref = {"collectionId": coll.id, "collectionName": coll.name, "id": record_id}
            data = orjson.dumps({"record": ref, "action": "leave"})
        if sub.client.send(sub.key, data):
            delivered += 1
        else:
            dropped += 1
    return delivered, dropped


def _refresh_bound_auth(hub: Subscribers, coll: Collection, action: str, record: Record) -> None:
    """Clients keep their auth record current; a deleted auth record unbinds them (as PocketBase does).

    A new tokenKey (a password or e-mail change) revokes every token and cookie session of the
    record, so the streams authenticated with one end, before any later event reaches them: the
    SDKs reconnect with whatever credentials they hold now.
    """
    for client in list(hub.clients.values()):
        if client.auth is None or client.auth_key() != (coll.id, str(record.get("id", ""))):
            continue
        if action == "delete":
            client.auth, client.auth_collection, client.session = None, None, ""
        elif "tokenKey" in record and record["tokenKey"] != client.auth.get("tokenKey"):
            client.close(REVOKED)
        else:
            client.auth, client.auth_collection = dict(record), coll


def _end_session_streams(hub: Subscribers, session_id: str) -> None:
    """A signed-out (or revoked) cookie session ends the streams it authenticated."""
    for client in list(hub.clients.values()):
        if session_id and client.session == session_id:
            client.close(REVOKED)


async def _visible(app: App, coll: Collection, record: Record, rule: str | None, filter_text: str, info: RequestInfo) -> bool:
    """Does the subscriber's rule (and optional filter) accept ``record``?"""
    if (not info.is_superuser and rule is None) or not superuser_reaches(info, coll):
        return False
    conditions = []
    binder = new_binder(app)
    try:
        if rule and not info.is_superuser:
            sql, _ = compile_condition(app, coll, rule, info, ALIAS, allow_hidden=True, binder=binder)
            conditions.append(f"({sql})")
        if filter_text.strip():
            guard_user_expression(filter_text, info)
            sql, _ = compile_condition(
                app, coll, filter_text, info, ALIAS, allow_hidden=info.is_superuser, is_filter=True, binder=binder
            )
            conditions.append(f"({sql})")
    except RoostError:
        return False  # an unusable filter is never delivered, and never reported
    if not conditions:
        return True
    return await literal_row_matches(app, coll, record, " AND ".join(conditions), binder.params)


async def literal_row_matches(app: App, coll: Collection, record: Record, where: str, params: dict[str, Any]) -> bool:
    """Evaluate ``where`` over a one-row literal table holding ``record``'s values."""
    codec = codec_for(coll, app.dialect)
    cols = []
    values = dict(params)
    for i, field in enumerate(coll.fields):
        values[f"_rt{i}"] = field.to_db(record.get(field.name))
        cols.append(f"{codec.typed_placeholder(field.name, f'_rt{i}')} AS {quote_ident(field.name, app.dialect)}")
    sql = f"SELECT 1 FROM (SELECT {', '.join(cols)}) AS {ALIAS} WHERE {where}"
    try:
        return (await app.db.fetch_one(sql, values)) is not None
    except Exception:
        log.exception("realtime rule evaluation failed for %s", coll.name)
        return False


async def serialise(
    app: App, hub: Subscribers, coll: Collection, record: Record, action: str, sub: Subscription, info: RequestInfo
) -> bytes:
    """The ``data:`` of one event as REST would show the record to this subscriber (expand
    problems leave the tree out instead of failing the delivery)."""
    query = sub.query
    out = await present_record(
        app, coll, dict(record), info, expand=query.get("expand", ""), fields=query.get("fields", ""), strict_expand=False
    )
    return orjson.dumps({"record": out, "action": action})
