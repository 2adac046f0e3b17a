"""Acting on a realtime client wherever it is held: here, or in the process named by its id.

Behind a load balancer without sticky sessions, an SSE subscribe POST or an OAuth2 redirect can
reach a process that does not hold the stream. These functions then ask the owner through the
control channel (``realtime_control.py``) and give the caller exactly the outcome a local call
would have: the same errors (404 unknown client, 403 changed auth) and the same results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from roost.core.errors import BadRequest, Forbidden, InternalError, NotFound, RoostError
from roost.core.realtime.clients import MISSING_CLIENT
from roost.core.realtime.control import owner_of
from roost.core.realtime.hub import RealtimeHub
from roost.core.records.save import fetch_record
from roost.core.schema.api_keys import ApiKeyGrant, principal_collection
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

SUBSCRIBE = "subscribe"
DELIVER_ONCE = "deliver-once"
#: errors an owner may answer with, by kind; anything else becomes an internal error
ERRORS: dict[str, type[RoostError]] = {cls.kind: cls for cls in (BadRequest, Forbidden, NotFound)}


def install(hub: RealtimeHub) -> None:
    """Let other processes run these operations on ``hub``'s clients."""

    async def subscribe_op(args: dict[str, Any]) -> dict[str, Any]:
        auth, coll = await _load_auth(hub.app, args.get("auth"))
        api_key = _grant(args.get("apiKey"))
        if api_key is not None:
            auth, coll = {"id": api_key.id, "name": api_key.name}, principal_collection()
        raw = args.get("topics")
        topics = [str(key) for key in raw] if isinstance(raw, list) else []
        session = str(args.get("session") or "") if auth is not None else ""
        try:
            subscribe_here(hub, str(args.get("client", "")), topics, auth, coll, session, api_key)
        except RoostError as exc:
            return {"error": exc.kind, "message": exc.message}
        return {}

    async def deliver_once_op(args: dict[str, Any]) -> dict[str, Any]:
        client_id, topic, ip = (str(args.get(name, "")) for name in ("client", "topic", "ip"))
        data = args.get("data")
        if not isinstance(data, dict):
            return {"ok": False}
        return {"ok": deliver_once_here(hub, client_id, topic, data, ip)}

    hub.control.register(SUBSCRIBE, subscribe_op)
    hub.control.register(DELIVER_ONCE, deliver_once_op)


def remote_owner(hub: RealtimeHub, client_id: str) -> str:
    """The node tag of the other process holding ``client_id`` ('' when it is local or unreachable)."""
    if client_id in hub.clients or not hub.control.enabled:
        return ""
    owner = owner_of(client_id)
    return owner if owner != hub.node else ""


async def subscribe(
    hub: RealtimeHub,
    client_id: str,
    topics: list[str],
    auth: dict[str, Any] | None,
    coll: Collection | None,
    session: str = "",
    api_key: ApiKeyGrant | None = None,
) -> None:
    """Replace every subscription of ``client_id`` and bind the caller's (verified) auth.

    ``session`` is the cookie session the auth came from, if any: ending it ends the stream.

    Raises:
        NotFound: no process holds the client.
        Forbidden: the client is bound to another auth.
    """
    owner = remote_owner(hub, client_id)
    if not owner:
        subscribe_here(hub, client_id, topics, auth, coll, session, api_key)
        return
    # the owner reloads the auth record by id: the token was verified here, and the database is shared
    identity = None if auth is None or coll is None else [coll.id, str(auth.get("id", ""))]
    args: dict[str, Any] = {"client": client_id, "topics": topics, "auth": identity, "session": session}
    if api_key is not None:  # verified here: the owner takes the key's principal and scopes as sent
        args["apiKey"] = {"id": api_key.id, "name": api_key.name, "scopes": list(api_key.scopes)}
    result = await hub.control.ask(owner, SUBSCRIBE, args)
    if result is None:
        raise NotFound(MISSING_CLIENT)
    if result.get("error"):
        raise ERRORS.get(str(result["error"]), InternalError)(str(result.get("message") or "") or None)


def subscribe_here(
    hub: RealtimeHub,
    client_id: str,
    topics: list[str],
    auth: dict[str, Any] | None,
    coll: Collection | None,
    session: str = "",
    api_key: ApiKeyGrant | None = None,
) -> None:
    client = hub.get(client_id)
    hub.bind_auth(client, auth, coll, session)
    client.api_key = api_key
    hub.set_subscriptions(client, topics)


async def deliver_once(hub: RealtimeHub, client_id: str, topic: str, data: dict[str, Any], ip: str) -> bool:
    """Send ``data`` to the client's ``topic`` subscription, then drop that subscription.

    False when no process holds such a subscription for ``client_id`` opened from ``ip`` (a
    guard against guessed client ids; an empty ``ip`` on either side is not compared).
    """
    owner = remote_owner(hub, client_id)
    if not owner:
        return deliver_once_here(hub, client_id, topic, data, ip)
    result = await hub.control.ask(owner, DELIVER_ONCE, {"client": client_id, "topic": topic, "data": data, "ip": ip})
    return bool(result and result.get("ok"))


def deliver_once_here(hub: RealtimeHub, client_id: str, topic: str, data: dict[str, Any], ip: str) -> bool:
    client = hub.clients.get(client_id)
    if client is None or client.closed:
        return False
    keys = [key for key, sub in client.subscriptions.items() if sub.topic == topic]
    if not keys or (client.ip and ip and client.ip != ip):
        return False
    client.send(topic, orjson.dumps(data))
    hub.remove_subscriptions(client, keys)
    return True


def _grant(data: Any) -> ApiKeyGrant | None:
    if not isinstance(data, dict) or not isinstance(data.get("scopes"), list):
        return None
    return ApiKeyGrant(str(data.get("id", "")), str(data.get("name", "")), tuple(str(s) for s in data["scopes"]))


async def _load_auth(app: App, identity: Any) -> tuple[dict[str, Any] | None, Collection | None]:
    if not isinstance(identity, list) or len(identity) != 2:
        return None, None
    coll = app.collections.get(str(identity[0]))
    if coll is None or not coll.is_auth or coll.id != identity[0]:
        return None, None
    record = await fetch_record(app, coll, str(identity[1]))
    return (record, coll) if record is not None else (None, None)
