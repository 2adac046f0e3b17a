"""prometheus-client's multiprocess mode for ``roost serve --workers N``.

Each worker writes its values to memory-mapped files in one directory
(``PROMETHEUS_MULTIPROC_DIR``), and a scrape of any worker reads them all. The directory must
be named before the first metric exists in a worker, so the server sets it up before the
workers start: a fresh temporary directory per server, or the operator's own directory, emptied
of an earlier server's files (their counters would otherwise be added to this one's). When a
worker ends, :func:`mark_process_dead` drops its live gauges (in-flight requests, connections),
while its counters stay part of the totals.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import values

from roost.tools.metrics_dir import ENV, active_dir, mark_process_dead, prepare_dir, remove_dir

__all__ = ["ENV", "active_dir", "mark_process_dead", "prepare_dir", "recorded_pids", "remove_dir", "use_known_pid"]

#: this process's id, renewed in a forked child (see use_known_pid)
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def _known_pid() -> int:
    return _pid


def use_known_pid() -> None:
    """Make the values created from now on in multiprocess mode read the process id from memory.

    Each update of a value checks that the process has not forked, and prometheus-client's
    default check is ``os.getpid()``: a system call per update, five per request. The id kept
    here is renewed after a fork, so the check still works. Call it before the process creates
    its first metric (a worker, before it builds its app): values of two classes would write
    the same file through two maps.
    """
    if active_dir() is None or getattr(values.ValueClass, "roost_known_pid", False):
        return
    value_class = values.MultiProcessValue(process_identifier=_known_pid)  # type: ignore[no-untyped-call]
    value_class.roost_known_pid = True
    values.ValueClass = value_class


def recorded_pids(path: Path) -> set[int]:
    """Process ids that have written metrics into ``path``."""
    pids = set()
    for file in path.glob("*.db"):
        tail = file.stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    return pids
