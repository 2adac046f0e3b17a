"""The text a scrape of ``/api/metrics`` answers: Prometheus's exposition format.

In one process that is the app's registry plus the standard process collector (CPU, memory,
open files). Under multiprocess mode the values come from every worker's files; the process
collector reads ``/proc`` of each live worker and labels its series with ``pid``, since process
figures cannot be summed into one meaningful series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from roost.tools.metrics.multiprocess import active_dir, recorded_pids
from roost.tools.metrics.registry import Metrics


class WorkerProcesses(Collector):
    """The process collector's series for each live worker, with a ``pid`` label."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for pid in sorted(recorded_pids(self.path)):
            if not Path(f"/proc/{pid}").exists():
                continue
            for metric in ProcessCollector(pid=_constant(pid), registry=None).collect():
                into = merged.setdefault(metric.name, Metric(metric.name, metric.documentation, metric.type))
                for sample in metric.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        return merged.values()


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


def _registry(metrics: Metrics) -> CollectorRegistry:
    path = active_dir()
    if path is None or not path.is_dir():
        return metrics.registry
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(path))  # type: ignore[no-untyped-call]
    registry.register(WorkerProcesses(path))
    return registry


def render(metrics: Metrics, accept: str = "") -> tuple[bytes, str]:
    """``(body, content type)`` of a scrape; ``accept`` is the scraper's Accept header.

    Reads files under multiprocess mode: call it off the event loop.
    """
    encoder, content_type = choose_encoder(accept)
    return encoder(_registry(metrics)), content_type


def add_process_collector(metrics: Metrics) -> None:
    """Report this process's CPU, memory and file descriptors (one-process mode)."""
    if active_dir() is None:
        ProcessCollector(registry=metrics.registry)

