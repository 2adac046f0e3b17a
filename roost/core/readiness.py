"""Readiness: can this process serve requests now? The database answers, and so does the
cross-process broker when there is one.

A load balancer or Kubernetes probe may ask many times a second from many places, so one
answer is kept for :data:`TTL` seconds and concurrent askers share the check in flight:
a probe storm costs the database one ``SELECT 1`` a second, never one per probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from roost.core.db.facade import Database, DatabaseUnavailable
from roost.tools.broker import Broker, BrokerError

#: seconds one readiness answer is reused
TTL = 1.0
#: seconds each dependency has to answer before it counts as unreachable
TIMEOUT = 2.0


@dataclass(frozen=True)
class Report:
    """What is unreachable, by name (``database``, ``broker``), with a short safe reason."""

    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Only the database decides: a broker outage degrades realtime and cross-instance
        changes, while reads and writes go on, so an instance stays in its load balancer."""
        return "database" not in self.problems


class Readiness:
    """Cached, coalesced checks of the database and the broker."""

    def __init__(self, db: Database, broker: Callable[[], Broker], *, ttl: float = TTL, timeout: float = TIMEOUT) -> None:
        self._db = db
        self._broker = broker
        self._ttl = ttl
        self._timeout = timeout
        self._last: tuple[float, Report] | None = None
        self._running: asyncio.Future[Report] | None = None

    async def check(self) -> Report:
        """The current report: the cached one while fresh, else the one being made, else a new one."""
        if self._last is not None and time.monotonic() - self._last[0] < self._ttl:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._probe())
        # shielded: one caller going away must not cancel the check the others wait on
        return await asyncio.shield(self._running)

    async def _probe(self) -> Report:
        problems = {}
        database, broker = await asyncio.gather(self._database(), self._cross_process_broker())
        if database:
            problems["database"] = database
        if broker:
            problems["broker"] = broker
        report = Report(problems)
        self._last = (time.monotonic(), report)
        return report

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await self._db.check()
        except DatabaseUnavailable:
            return "The database is unreachable."
        except TimeoutError:
            return f"The database did not answer within {self._timeout:g} s."
        return ""

    async def _cross_process_broker(self) -> str:
        broker = self._broker()
        if not broker.cross_process:
            return ""
        try:
            async with asyncio.timeout(self._timeout):
                await broker.ping()
        except (BrokerError, TimeoutError):
            return "The cluster's broker is unreachable."
        return ""


__all__ = ["Readiness", "Report"]
