"""Realtime clients (one per connection, whatever the transport), their bounded outboxes and
their subscriptions."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roost.core.realtime.control import CLIENT_ID_LENGTH, random_text
from roost.core.schema.api_keys import ApiKeyGrant
from roost.core.schema.collection import Collection

AUTH_MISMATCH = "The current and the previous request authorization don't match."


MISSING_CLIENT = "Missing or invalid client id."


#: the close reason of a stream whose credentials were revoked (new tokenKey, ended session)
REVOKED = "auth revoked"


#: the item that tells a transport to end the stream
CLOSE = None


Item = tuple[str, bytes] | None


class Outbox:
    """A bounded FIFO with one waiter; ``push`` never blocks (False when full)."""

    __slots__ = ("_items", "_limit", "_waiter")

    def __init__(self, limit: int) -> None:
        self._items: deque[Item] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Item, *, force: bool = False) -> bool:
        if not force and len(self._items) >= self._limit:
            return False
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    def clear(self) -> None:
        self._items.clear()

    def take_ready(self, limit: int) -> list[Item]:
        """Up to ``limit`` items that are already queued (no waiting)."""
        out: list[Item] = []
        while self._items and len(out) < limit:
            out.append(self._items.popleft())
        return out

    async def pop(self) -> Item:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class Client:
    """One realtime connection, whatever the transport."""

    __slots__ = (
        "api_key", "auth", "auth_collection", "close_reason", "closed", "created", "direct", "id", "ip", "outbox", "session",
        "subscriptions",
    )  # fmt: skip

    def __init__(self, client_id: str, ip: str, queue_size: int) -> None:
        self.id = client_id
        self.ip = ip
        self.auth: dict[str, Any] | None = None
        self.auth_collection: Collection | None = None
        #: the scopes of the API key the client subscribed with (bounds what expand reveals)
        self.api_key: ApiKeyGrant | None = None
        #: the ``_authSessions`` id when the auth came from a session cookie; ending it ends the stream
        self.session = ""
        self.subscriptions: dict[str, Subscription] = {}
        self.outbox = Outbox(queue_size)
        self.created = time.monotonic()
        self.closed = False
        self.close_reason = ""
        #: set by a transport that can write an event at once without waiting (False: it cannot
        #: now); used only while the outbox is empty, so events keep their order
        self.direct: Callable[[str, bytes], bool] | None = None

    def send(self, name: str, data: bytes) -> bool:
        """Write or queue one event; False (and the client is closed) when its outbox is full."""
        if self.closed:
            return False
        direct = self.direct
        if direct is not None and not self.outbox and direct(name, data):
            return True
        if self.outbox.push((name, data)):
            return True
        self.close("slow consumer")
        return False

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.direct = None
        self.outbox.clear()
        self.outbox.push(CLOSE, force=True)

    def auth_key(self) -> tuple[str, str]:
        if self.auth is None or self.auth_collection is None:
            return ("", "")
        return (self.auth_collection.id, str(self.auth.get("id", "")))


def new_client_id(node: str = "") -> str:
    """40 letters and digits, as the SDKs know them; the first ones name the owning process."""
    return node + random_text(CLIENT_ID_LENGTH - len(node))


#: how many record ids a ``leave`` subscription remembers having delivered
LEAVE_MEMORY = 10_000


@dataclass(eq=False, slots=True)
class Subscription:
    """One subscription key of one client.

    ``key`` is the exact text the client sent; events are named with it byte for byte.
    ``topic`` is the key without ``?options=``; ``collection`` and ``record_id`` split it
    (``record_id`` is ``"*"`` or ``""`` for collection-wide topics).
    """

    key: str
    topic: str
    collection: str
    record_id: str
    client: Client
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    options_key: str = ""
    leave: bool = False
    seen: dict[str, None] | None = None

    @property
    def rule_name(self) -> str:
        return "listRule" if self.record_id in ("", "*") else "viewRule"

    def remember(self, record_id: str) -> None:
        if self.seen is None:
            return
        self.seen[record_id] = None
        if len(self.seen) > LEAVE_MEMORY:
            self.seen.pop(next(iter(self.seen)))

