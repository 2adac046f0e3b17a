"""Fan-out of one record change: group subscribers, evaluate each group once, serialise once.

Subscribers are grouped by (rule, auth, options). A group shares one rule/filter evaluation and
one serialised payload, so a thousand guests on ``posts/*`` cost one check and one
``orjson.dumps``. Rules are evaluated against the values carried by the event (a literal row),
so a delete is judged on the record as it was before it was removed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from roost.core.auth.sessions import SESSIONS
from roost.core.collections import Collection
from roost.core.db import quote_ident
from roost.core.errors import RoostError
from roost.core.events import RequestInfo
from roost.core.expand import expand_records, present
from roost.core.queries import guard_user_expression
from roost.core.realtime import REVOKED
from roost.core.realtime_topics import Subscription
from roost.core.record_io import Record, codec_for
from roost.core.rules import compile_condition, new_binder

if TYPE_CHECKING:
    from roost.core.app import App
    from roost.core.realtime import Client, RealtimeHub

log = logging.getLogger("roost.realtime")
ALIAS = '"_r"'


async def dispatch(app: App, hub: RealtimeHub, action: str, collection_id: str, record: Record) -> None:
    coll = app.collections.get(collection_id)
    if coll is None:
        await app.collections.load()  # created in another process moments ago
        coll = app.collections.get(collection_id)
        if coll is None:
            return
    if coll.is_auth:
        _refresh_bound_auth(hub, coll, action, record)
    elif coll.name == SESSIONS and action == "delete":
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
            _deliver(members, data, record, action)
        elif action == "update":
            _deliver_leave(members, coll, record)


def request_info(sub: Subscription) -> RequestInfo:
    """What the rules see for one subscription: its client's auth and its options."""
    client: Client = sub.client
    return RequestInfo(
        auth=client.auth,
        auth_collection=client.auth_collection,
        method="GET",
        query=dict(sub.query),
        headers=dict(sub.headers),
        context="realtime",
        ip=client.ip,
    )


def _deliver(members: list[Subscription], data: bytes, record: Record, action: str) -> None:
    record_id = str(record.get("id", ""))
    for sub in members:
        if sub.client.send(sub.key, data) and sub.seen is not None:
            if action == "delete":
                sub.seen.pop(record_id, None)
            else:
                sub.remember(record_id)


def _deliver_leave(members: list[Subscription], coll: Collection, record: Record) -> None:
    record_id = str(record.get("id", ""))
    data: bytes | None = None
    for sub in members:
        if sub.seen is None or record_id not in sub.seen:
            continue
        del sub.seen[record_id]
        if data is None:
            ref = {"collectionId": coll.id, "collectionName": coll.name, "id": record_id}
            data = orjson.dumps({"record": ref, "action": "leave"})
        sub.client.send(sub.key, data)


def _refresh_bound_auth(hub: RealtimeHub, coll: Collection, action: str, record: Record) -> None:
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


def _end_session_streams(hub: RealtimeHub, session_id: str) -> None:
    """A signed-out (or revoked) cookie session ends the streams it authenticated."""
    for client in list(hub.clients.values()):
        if session_id and client.session == session_id:
            client.close(REVOKED)


async def _visible(app: App, coll: Collection, record: Record, rule: str | None, filter_text: str, info: RequestInfo) -> bool:
    """Does the subscriber's rule (and optional filter) accept ``record``?"""
    if not info.is_superuser and rule is None:
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
    app: App, hub: RealtimeHub, coll: Collection, record: Record, action: str, sub: Subscription, info: RequestInfo
) -> bytes:
    """The ``data:`` of one event as REST would show the record to this subscriber."""
    copy = dict(record)
    expand = sub.query.get("expand", "")
    if expand:
        try:
            await expand_records(app, coll, [copy], expand, info)
        except RoostError:
            copy.pop("@expand", None)
    out: Any = present(app, coll, copy, info)
    fields = sub.query.get("fields", "")
    if fields and hub.field_picker is not None:
        out = hub.field_picker(out, fields)
    return orjson.dumps({"record": out, "action": action})
