"""The broker protocol: fire-and-forget publish/subscribe on named channels.

A message published on a channel reaches every handler subscribed to that channel in every
process attached to the same broker, the publishing process included, once, in publish order
per publisher. Delivery is at most once: a process that is disconnected misses what is
published meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

#: receives the raw payload of one message
MessageHandler = Callable[[bytes], Awaitable[None]]
#: runs after a lost connection to the broker came back
ReconnectHandler = Callable[[], Awaitable[None]]


class BrokerError(Exception):
    """The broker cannot be reached or refused an operation."""


class Broker(Protocol):
    """Pub/sub across the processes of one deployment."""

    #: True when messages leave this process (Redis, PostgreSQL); False for the in-memory broker
    cross_process: bool
    #: True when :meth:`audience` answers: a process then subscribes to a channel only while it
    #: needs its messages, and a publisher may skip a channel nobody else listens to
    knows_audience: bool

    async def start(self) -> None:
        """Connect; must be called before publish. Idempotent."""

    async def publish(self, channel: str, payload: bytes) -> None:
        """Send ``payload`` to every subscriber of ``channel`` everywhere."""

    async def publish_many(self, channel: str, payloads: list[bytes]) -> None:
        """Publish ``payloads`` in order, in as few round trips as the broker allows (one
        pipeline on Redis, one NOTIFY statement per 200 messages on PostgreSQL).

        Raises :class:`BrokerError` if any of them was not sent; those before it may have been.
        """

    async def subscribe(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        """Call ``handler`` for each message on ``channel``; returns an async unsubscribe."""

    def audience(self, channel: str) -> int | None:
        """How many other processes subscribe to ``channel`` right now, when the broker knows
        for certain (the embedded hub: a subscription is answered only after every other process
        has heard of it); None when it cannot tell, and then a publisher must publish."""

    async def listeners(self, channel: str) -> int | None:
        """How many other processes subscribe to ``channel`` now, asked of the broker (the hub
        from memory, Redis with ``PUBSUB NUMSUB``); None when it cannot tell. For waiting on
        their answers, not for deciding whether to publish (see :meth:`audience`)."""

    async def ping(self) -> None:
        """Return when the broker answers now; raise :class:`BrokerError` (within seconds) when not.

        For a change every process must see before it is made: a publish after the change could
        fail, and a change nobody else hears of leaves the processes disagreeing.
        """

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        """Run ``handler`` (in a task) each time the subscription link comes back after a loss.

        Messages published while the link was down are lost for this process; a subscriber that
        keeps state derived from them reloads it here.
        """

    async def close(self) -> None:
        """Disconnect and drop every subscription. Idempotent."""
