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


class BrokerError(Exception):
    """The broker cannot be reached or refused an operation."""


class Broker(Protocol):
    """Pub/sub across the processes of one deployment."""

    #: True when messages leave this process (Redis, PostgreSQL); False for the in-memory broker
    cross_process: bool

    async def start(self) -> None:
        """Connect; must be called before publish. Idempotent."""

    async def publish(self, channel: str, payload: bytes) -> None:
        """Send ``payload`` to every subscriber of ``channel`` everywhere."""

    async def subscribe(self, channel: str, handler: MessageHandler) -> Callable[[], Awaitable[None]]:
        """Call ``handler`` for each message on ``channel``; returns an async unsubscribe."""

    async def close(self) -> None:
        """Disconnect and drop every subscription. Idempotent."""
