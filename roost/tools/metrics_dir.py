"""The directory several worker processes record their metrics into
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``): set up before the first
worker starts, emptied of a dead worker's live gauges, removed when the server stops.

This is the part of :mod:`roost.tools.metrics.multiprocess` that the supervisor of
``roost serve --workers N`` needs. It touches only files, so the supervisor does not load
prometheus-client (about 3 MiB) for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
#: prometheus-client's gauge modes whose values live only as long as their process; a dead
#: worker's files of these modes are dropped (tests/tools/test_metrics_multiprocess.py checks
#: the list against prometheus-client's own)
LIVE_GAUGE_MODES = ("liveall", "livemin", "livemax", "livesum", "livemostrecent")


def active_dir() -> Path | None:
    """The multiprocess directory this process records into, or None (one process)."""
    path = os.environ.get(ENV)
    return Path(path) if path else None


def prepare_dir() -> tuple[Path, bool]:
    """Name the directory the workers will record into; returns it and whether it is ours.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is kept and emptied of old ``*.db`` files;
    otherwise a new temporary directory is made (remove it with :func:`remove_dir`).
    """
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink(missing_ok=True)
        return path, False
    path = Path(tempfile.mkdtemp(prefix="roost-metrics-"))
    os.environ[ENV] = str(path)
    return path, True


def remove_dir(path: Path) -> None:
    """Delete a directory made by :func:`prepare_dir` (the server stopped)."""
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(ENV) == str(path):
        del os.environ[ENV]


def mark_process_dead(pid: int) -> None:
    """Forget the live gauges of a worker that ended (its counters stay in the totals)."""
    path = active_dir()
    if path is None or not path.is_dir():
        return
    for mode in LIVE_GAUGE_MODES:
        (path / f"gauge_{mode}_{pid}.db").unlink(missing_ok=True)
