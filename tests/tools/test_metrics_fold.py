"""The HTTP request metrics are taken as plain numbers and folded into prometheus-client's values
(``Metrics.fold``): a scrape must read what per-request updates would have given."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from roost.tools.metrics import registry
from roost.tools.metrics.registry import LATENCY_BUCKETS, QUERY_BUCKETS, Metrics

#: on and around every bucket bound, below the first and past the last
LATENCIES = [0.0, 0.0004, *LATENCY_BUCKETS, *(b + 1e-9 for b in LATENCY_BUCKETS), 42.0]
REQUESTS = [("GET", "/api/health", 200), ("POST", "/api/collections/{collection}/records", 400), ("BREW", "none", 404)]


def _samples(text: bytes, prefix: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples if s.name.startswith(prefix) and not s.name.endswith("_created")}  # fmt: skip


def test_a_fold_publishes_what_observing_each_request_would() -> None:
    metrics = Metrics()
    reference = CollectorRegistry()
    counter = Counter("roost_http_requests", "", ("method", "route", "status"), registry=reference)
    histogram = Histogram("roost_http_request_duration_seconds", "", ("method", "route", "status"),
                          buckets=LATENCY_BUCKETS, registry=reference)  # fmt: skip
    for method, route, status in REQUESTS:
        labels = (method if method != "BREW" else "OTHER", route, str(status))
        for seconds in LATENCIES:
            metrics.request_started()
            metrics.request_finished(method, route, status, seconds)
            counter.labels(*labels).inc()
            histogram.labels(*labels).observe(seconds)
    metrics.fold()
    ours = _samples(generate_latest(metrics.registry), "roost_http_request")
    expected = _samples(generate_latest(reference), "roost_http_request")
    assert ours == {**expected, ("roost_http_requests_in_flight", frozenset()): 0.0}
    assert ("roost_http_requests_total", frozenset({"method": "OTHER", "route": "none", "status": "404"}.items())) in ours


async def test_statements_and_cache_lookups_fold_into_what_recording_each_would_give() -> None:
    metrics = Metrics()
    reference = CollectorRegistry()
    histogram = Histogram("roost_db_query_duration_seconds", "", buckets=QUERY_BUCKETS, registry=reference)
    cache = Counter("roost_cache_requests", "", ("result",), registry=reference)
    timings = [0.0, 0.00003, *QUERY_BUCKETS, *(b + 1e-9 for b in QUERY_BUCKETS), 9.5]
    for seconds in timings:
        metrics.query_finished(seconds)
        histogram.observe(seconds)
    metrics.query_finished_anywhere(0.002)  # another thread's statement: recorded at once
    histogram.observe(0.002)
    for hit in (True, False, True, True):
        metrics.cache_lookup(hit)
        cache.labels("hit" if hit else "miss").inc()
    unfolded = _samples(generate_latest(metrics.registry), "roost_db_query")
    assert unfolded[("roost_db_query_duration_seconds_count", frozenset())] == 1  # a loop runs: only the direct one yet
    metrics.fold()
    for prefix in ("roost_db_query", "roost_cache_requests"):
        assert _samples(generate_latest(metrics.registry), prefix) == _samples(generate_latest(reference), prefix)
    metrics.fold()  # nothing new: a second fold adds nothing
    assert _samples(generate_latest(metrics.registry), "roost_cache_requests") == _samples(generate_latest(reference), "roost_cache_requests")


async def test_requests_are_published_within_the_fold_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "FOLD_EVERY", 0.05)
    metrics = Metrics()
    ok = ("roost_http_requests_total", frozenset({"method": "GET", "route": "/api/health", "status": "200"}.items()))
    in_flight = ("roost_http_requests_in_flight", frozenset())
    metrics.request_started()
    metrics.request_started()
    metrics.request_finished("GET", "/api/health", 200, 0.003)
    assert ok not in _samples(generate_latest(metrics.registry), "roost_http_request")  # not yet
    await asyncio.sleep(0.2)
    published = _samples(generate_latest(metrics.registry), "roost_http_request")
    assert published[ok] == 1
    assert published[in_flight] == 1  # one request is still being answered
    metrics.request_finished("GET", "/api/health", 200, 0.003)
    metrics.fold()  # what a scrape of this process does first
    published = _samples(generate_latest(metrics.registry), "roost_http_request")
    assert (published[ok], published[in_flight]) == (2, 0)
