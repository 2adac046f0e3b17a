"""Pub/sub brokers behind one protocol: in-memory, Redis and PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

from roost.tools.broker.base import Broker, BrokerError, MessageHandler
from roost.tools.broker.memory import MemoryBroker


def create_broker(url: str = "") -> Broker:
    """A broker for ``url``: ``redis://``/``rediss://``, ``postgresql://``, ``hub://`` (the
    embedded hub of ``roost serve``'s workers), or '' for in-memory."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from roost.tools.broker.redis import RedisBroker

        return RedisBroker(url)
    if url.startswith(("postgresql://", "postgres://")):
        from roost.tools.broker.postgres import PostgresBroker

        return PostgresBroker(url)
    if url.startswith("hub://"):
        from roost.tools.broker.hub import HubBroker

        return HubBroker(url)
    if url in ("", "memory://"):
        return MemoryBroker()
    raise BrokerError(f"unsupported broker URL: {url.split('://')[0]}://")


__all__ = ["Broker", "BrokerError", "MemoryBroker", "MessageHandler", "create_broker"]
