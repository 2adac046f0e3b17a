"""Prometheus metrics: what Roost records (:class:`Metrics`), the scrape text (:func:`render`)
and multiprocess mode for several workers (:mod:`roost.tools.metrics.multiprocess`)."""

from __future__ import annotations

from roost.tools.metrics.exposition import add_process_collector, render
from roost.tools.metrics.registry import NO_ROUTE, Metrics, NullMetrics


def create_metrics(enabled: bool) -> Metrics:
    """The metrics of a new app: recording ones with the process collector, or a no-op set."""
    if not enabled:
        return NullMetrics()
    metrics = Metrics()
    add_process_collector(metrics)
    return metrics


__all__ = ["NO_ROUTE", "Metrics", "NullMetrics", "create_metrics", "render"]
