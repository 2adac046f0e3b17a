"""Every metric Roost records, behind verbs that callers use without knowing prometheus-client.

One :class:`Metrics` per app, each on its own :class:`~prometheus_client.CollectorRegistry`, so
nothing is created at import time and tests see only their app's numbers. Under ``roost serve
--workers N`` the values live in prometheus-client's per-process files (multiprocess mode, see
:mod:`roost.tools.metrics.multiprocess`) and a scrape adds them up over the workers; gauges of
current state (in-flight requests, connections, pool use) sum over the *live* workers only.

The recording methods sit on the request path, so each is a dictionary lookup of a cached
labelled child plus the increment. What every request records (the HTTP request metrics, each
SQL statement's time on the event loop, the response cache's hits and misses) is cheaper still:
it adds to plain numbers, and :meth:`Metrics.fold` moves them into prometheus-client's values
(each update of which takes a lock, and under multiprocess mode writes a file). A fold runs at every scrape of this process, and within :data:`FOLD_EVERY`
seconds of a request on a timer of the event loop, so a scrape that another worker answers
sees this one's requests at most that late. :class:`NullMetrics` (metrics switched off)
records nothing.
Label values are bounded by construction: a route is its template, never the URL; a method
outside the standard ones is ``OTHER``; a job is named by its registered name.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: seconds; from a cached view (sub-millisecond) to a slow export
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
JOB_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
#: the route label of a request no route matched (404s, preflights, early rejections)
NO_ROUTE = "none"
#: seconds between a request and the fold that publishes it (see :meth:`Metrics.fold`)
FOLD_EVERY = 1.0


class Metrics:
    """The metrics of one app (``app.metrics``)."""

    enabled = True

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("roost_http_requests", "HTTP requests answered, by route template and status.",
                                     ("method", "route", "status"), registry=r)  # fmt: skip
        self.http_duration = Histogram("roost_http_request_duration_seconds", "Time to answer an HTTP request.",
                                       ("method", "route", "status"), buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.http_in_flight = Gauge("roost_http_requests_in_flight", "HTTP requests being answered now.",
                                    registry=r, multiprocess_mode="livesum")  # fmt: skip
        self.db_pool_size = Gauge("roost_db_pool_size", "Connections the database pool keeps open.",
                                  registry=r, multiprocess_mode="livesum")  # fmt: skip
        self.db_pool_checked_out = Gauge("roost_db_pool_checked_out", "Pooled database connections in use now.",
                                         registry=r, multiprocess_mode="livesum")  # fmt: skip
        self.db_query_duration = Histogram("roost_db_query_duration_seconds", "Time one SQL statement took.",
                                           buckets=QUERY_BUCKETS, registry=r)  # fmt: skip
        cache = Counter("roost_cache_requests", "Response cache lookups, by result (hit or miss).", ("result",), registry=r)
        self._cache_hit, self._cache_miss = cache.labels("hit"), cache.labels("miss")
        self.realtime_connections = Gauge("roost_realtime_connections", "Open realtime streams (SSE and WebSocket).",
                                          registry=r, multiprocess_mode="livesum")  # fmt: skip
        events = Counter("roost_realtime_events", "Realtime messages, by outcome (delivered, or dropped because the "
                         "subscriber's queue was full).", ("outcome",), registry=r)  # fmt: skip
        self._delivered, self._dropped = events.labels("delivered"), events.labels("dropped")
        self._slow_clients = Counter("roost_realtime_clients_dropped", "Realtime streams closed as slow consumers.",
                                     registry=r)  # fmt: skip
        self._rate_limited = Counter("roost_ratelimit_rejections", "Requests refused with 429 by a rate-limit rule.",
                                     ("rule",), registry=r)  # fmt: skip
        self._job_runs = Counter("roost_job_runs", "Background runs, by kind (job, cron, queue), name and outcome.",
                                 ("kind", "name", "outcome"), registry=r)  # fmt: skip
        self._job_duration = Histogram("roost_job_duration_seconds", "Time one background run took.",
                                       ("kind", "name"), buckets=JOB_BUCKETS, registry=r)  # fmt: skip
        mail = Counter("roost_mail_messages", "Outgoing e-mails, by outcome (sent, failed, dropped).", ("outcome",), registry=r)
        self._mail = {outcome: mail.labels(outcome) for outcome in ("sent", "failed", "dropped")}
        self.mail_queue = Gauge("roost_mail_queue_size", "E-mails waiting to be sent.",
                                registry=r, multiprocess_mode="livesum")  # fmt: skip
        self._info = Gauge("roost_info", "Always 1: the Roost version and the database this instance runs on.",
                           ("version", "database"), registry=r, multiprocess_mode="max")  # fmt: skip
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        #: requests being answered now (published as ``http_in_flight`` by :meth:`fold`)
        self.in_flight = 0
        #: not yet folded: per (method, route, status), [count, seconds, then a count per latency bucket]
        self._http_pending: dict[tuple[str, str, int], list[Any]] = {}
        #: not yet folded: SQL statements timed on the event loop, [count, seconds, then per bucket]
        self._query_pending = _no_queries()
        #: not yet folded: response cache [hits, misses]
        self._cache_pending = [0, 0]
        self._fold_due = False
        _LIVE.add(self)

    def describe(self, version: str, database: str) -> None:
        """Record what this instance is (``roost_info``): its version and database kind."""
        self._info.labels(version, database).set(1)

    # ----- HTTP ----------------------------------------------------------------------------------
    def request_started(self) -> None:
        self.in_flight += 1
        if not self._fold_due:
            self._fold_soon()

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request under its route template (``NO_ROUTE`` when none matched)."""
        self.in_flight -= 1
        if method not in HTTP_METHODS:
            method = "OTHER"
        key = (method, route, status)
        pending = self._http_pending.get(key)
        if pending is None:
            pending = self._http_pending[key] = [0, 0.0] + [0] * (len(LATENCY_BUCKETS) + 1)
        pending[0] += 1
        pending[1] += seconds
        pending[2 + bisect_left(LATENCY_BUCKETS, seconds)] += 1
        if not self._fold_due:
            self._fold_soon()

    def _fold_soon(self) -> None:
        """Fold within :data:`FOLD_EVERY` seconds (at once when no event loop runs here)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.fold()
            return
        self._fold_due = True
        loop.call_later(FOLD_EVERY, self.fold)

    def fold(self) -> None:
        """Move the numbers taken since the last fold (HTTP requests, statements, cache lookups)
        into prometheus-client's values, where a scrape reads them. Call it from the thread that
        serves requests."""
        self._fold_due = False
        queries = self._query_pending
        if queries[0]:
            self._query_pending = _no_queries()
            _add_observations(self.db_query_duration, queries[1], queries[2:])
        hits, misses = self._cache_pending
        if hits or misses:
            self._cache_pending = [0, 0]
            if hits:
                self._cache_hit.inc(hits)
            if misses:
                self._cache_miss.inc(misses)
        pending, self._http_pending = self._http_pending, {}
        self.http_in_flight.set(self.in_flight)
        for key, (count, seconds, *buckets) in pending.items():
            children = self._http_children.get(key)
            if children is None:
                method, route, status = key
                labels = (method, route, str(status))
                children = self._http_children[key] = (self.http_requests.labels(*labels), self.http_duration.labels(*labels))
            children[0].inc(count)
            _add_observations(children[1], seconds, buckets)

    # ----- database ------------------------------------------------------------------------------
    def query_finished(self, seconds: float) -> None:
        """One statement timed on the event loop's thread (folded; see :meth:`fold`)."""
        pending = self._query_pending
        pending[0] += 1
        pending[1] += seconds
        pending[2 + bisect_left(QUERY_BUCKETS, seconds)] += 1
        if not self._fold_due:
            self._fold_soon()

    def query_finished_anywhere(self, seconds: float) -> None:
        """One statement timed on any thread (SQLAlchemy's events): recorded at once."""
        self.db_query_duration.observe(seconds)

    def pool_sized(self, size: int) -> None:
        self.db_pool_size.set(size)

    def connection_checked_out(self) -> None:
        self.db_pool_checked_out.inc()

    def connection_checked_in(self) -> None:
        self.db_pool_checked_out.dec()

    # ----- features ------------------------------------------------------------------------------
    def cache_lookup(self, hit: bool) -> None:
        """One response cache lookup on the event loop's thread (folded; see :meth:`fold`)."""
        self._cache_pending[0 if hit else 1] += 1
        if not self._fold_due:
            self._fold_soon()

    def realtime_connected(self) -> None:
        self.realtime_connections.inc()

    def realtime_disconnected(self, *, slow: bool = False) -> None:
        self.realtime_connections.dec()
        if slow:
            self._slow_clients.inc()

    def realtime_sent(self, delivered: int, dropped: int = 0) -> None:
        if delivered:
            self._delivered.inc(delivered)
        if dropped:
            self._dropped.inc(dropped)

    def rate_limited(self, rule: str) -> None:
        self._rate_limited.labels(rule).inc()

    def job_finished(self, kind: str, name: str, outcome: str, seconds: float) -> None:
        """One background run: ``kind`` is job, cron or queue; ``outcome`` success, failure or retry."""
        self._job_runs.labels(kind, name, outcome).inc()
        self._job_duration.labels(kind, name).observe(seconds)

    def mail_finished(self, outcome: str) -> None:
        """One e-mail: sent, failed (after every retry) or dropped (the queue was full)."""
        self._mail[outcome].inc()

    def mail_queued(self, size: int) -> None:
        self.mail_queue.set(size)


def _no_queries() -> list[Any]:
    return [0, 0.0] + [0] * (len(QUERY_BUCKETS) + 1)


def _add_observations(histogram: Any, seconds: float, buckets: list[int]) -> None:
    """Add many observations to one histogram child: their ``seconds`` and per-bucket counts.

    prometheus-client's Histogram has no call for this; these are the values its ``observe()``
    adds to (tests/tools/test_metrics_fold.py compares the two)."""
    histogram._sum.inc(seconds)
    for value, bucket_count in zip(histogram._buckets, buckets, strict=True):
        if bucket_count:
            value.inc(bucket_count)


#: every recording Metrics of this process, for :func:`_forget_at_fork`
_LIVE: weakref.WeakSet[Metrics] = weakref.WeakSet()


def _forget_at_fork() -> None:
    """In a forked child, the numbers not yet folded and the requests in flight are the parent's."""
    for metrics in _LIVE:
        metrics._http_pending = {}
        metrics._query_pending = _no_queries()
        metrics._cache_pending = [0, 0]
        metrics.in_flight = 0
        metrics._fold_due = False


os.register_at_fork(after_in_child=_forget_at_fork)


class NullMetrics(Metrics):
    """Metrics switched off: every recording method does nothing."""

    enabled = False

    def __init__(self) -> None:  # no registry, no metric objects
        self.registry = CollectorRegistry(auto_describe=True)

    def describe(self, version: str, database: str) -> None:
        pass

    def request_started(self) -> None:
        pass

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        pass

    def fold(self) -> None:
        pass

    def query_finished(self, seconds: float) -> None:
        pass

    def query_finished_anywhere(self, seconds: float) -> None:
        pass

    def pool_sized(self, size: int) -> None:
        pass

    def connection_checked_out(self) -> None:
        pass

    def connection_checked_in(self) -> None:
        pass

    def cache_lookup(self, hit: bool) -> None:
        pass

    def realtime_connected(self) -> None:
        pass

    def realtime_disconnected(self, *, slow: bool = False) -> None:
        pass

    def realtime_sent(self, delivered: int, dropped: int = 0) -> None:
        pass

    def rate_limited(self, rule: str) -> None:
        pass

    def job_finished(self, kind: str, name: str, outcome: str, seconds: float) -> None:
        pass

    def mail_finished(self, outcome: str) -> None:
        pass

    def mail_queued(self, size: int) -> None:
        pass
