"""Multiprocess mode: what several worker processes record adds up in one scrape.

prometheus-client picks its value store when it is first imported, so each "worker" here is a
fresh Python process with ``PROMETHEUS_MULTIPROC_DIR`` set, as ``roost serve --workers N`` starts
them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import multiprocess as library
from prometheus_client.parser import text_string_to_metric_families

from roost.tools import metrics_dir
from roost.tools.metrics import multiprocess

WORKER = """
import sys
from roost.tools.metrics import create_metrics
metrics = create_metrics(True)
for _ in range(int(sys.argv[1])):
    metrics.request_started()
    metrics.request_finished("GET", "/api/health", 200, 0.002)
metrics.request_started()  # one request still in flight when the worker stops
metrics.job_finished("cron", "digest", "failure", 0.5)
"""
SCRAPE = """
from roost.tools.metrics import create_metrics, render
print(render(create_metrics(True))[0].decode())
"""


def _run(code: str, directory: Path, *args: str) -> str:
    env = {**os.environ, multiprocess.ENV: str(directory)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def _values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def _pids(directory: Path) -> list[int]:
    return sorted(multiprocess.recorded_pids(directory))


def test_a_scrape_adds_up_every_worker_and_drops_the_live_gauges_of_dead_ones(tmp_path: Path) -> None:
    _run(WORKER, tmp_path, "3")
    _run(WORKER, tmp_path, "4")
    first, second = _pids(tmp_path)
    ok = frozenset({"method": "GET", "route": "/api/health", "status": "200"}.items())
    values = _values(_run(SCRAPE, tmp_path))
    assert values[("roost_http_requests_total", ok)] == 7
    assert values[("roost_http_request_duration_seconds_count", ok)] == 7
    assert values[("roost_job_runs_total", frozenset({"kind": "cron", "name": "digest", "outcome": "failure"}.items()))] == 2
    assert values[("roost_http_requests_in_flight", frozenset())] == 2

    os.environ[multiprocess.ENV] = str(tmp_path)
    try:
        multiprocess.mark_process_dead(first)
    finally:
        del os.environ[multiprocess.ENV]
    values = _values(_run(SCRAPE, tmp_path))
    assert values[("roost_http_requests_in_flight", frozenset())] == 1  # only the second worker's
    assert values[("roost_http_requests_total", ok)] == 7  # counters of ended workers stay in the totals
    assert second in _pids(tmp_path)


def test_a_fresh_directory_is_made_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multiprocess.ENV, raising=False)
    path, ours = multiprocess.prepare_dir()
    assert ours and path.is_dir() and os.environ[multiprocess.ENV] == str(path)
    multiprocess.remove_dir(path)
    assert not path.exists() and multiprocess.ENV not in os.environ


def test_an_operators_directory_is_kept_but_emptied_of_an_earlier_servers_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(WORKER, tmp_path, "5")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    path, ours = multiprocess.prepare_dir()
    assert (path, ours) == (tmp_path, False)
    assert not list(tmp_path.glob("*.db"))
    assert (tmp_path / "notes.txt").exists()


FORKING_WORKER = """
import os
from roost.tools.metrics import create_metrics, multiprocess
multiprocess.use_known_pid()
multiprocess.use_known_pid()  # once is enough; a second call changes nothing
metrics = create_metrics(True)
metrics.request_finished("GET", "/api/health", 200, 0.002)
child = os.fork()
if child == 0:  # the fork is still noticed: the child's values go to files of its own
    metrics.request_finished("GET", "/api/health", 200, 0.002)
    metrics.request_finished("GET", "/api/health", 200, 0.002)
    os._exit(0)
os.waitpid(child, 0)
print(os.getpid(), child)
"""


def test_a_worker_that_keeps_its_process_id_still_notices_a_fork(tmp_path: Path) -> None:
    parent, child = map(int, _run(FORKING_WORKER, tmp_path).split())
    assert _pids(tmp_path) == sorted([parent, child])
    ok = frozenset({"method": "GET", "route": "/api/health", "status": "200"}.items())
    assert _values(_run(SCRAPE, tmp_path))[("roost_http_requests_total", ok)] == 3


def test_the_supervisors_list_of_live_gauge_modes_is_prometheus_clients() -> None:
    """The supervisor drops a dead worker's live gauges without loading prometheus-client; its
    list of the modes must stay the library's, or a dead worker's in-flight gauge would linger."""
    assert set(metrics_dir.LIVE_GAUGE_MODES) == set(library._LIVE_GAUGE_MULTIPROCESS_MODES)


FORK_WITH_PENDING = """
import asyncio, os
from roost.tools.metrics import create_metrics

async def main():
    metrics = create_metrics(True)
    metrics.request_started()
    metrics.request_finished("GET", "/api/health", 200, 0.002)  # not yet folded: a loop runs
    metrics.query_finished(0.0003)
    metrics.cache_lookup(True)
    child = os.fork()
    if child == 0:  # the parent's pending request is not the child's to publish
        metrics.fold()
        os._exit(0)
    os.waitpid(child, 0)
    metrics.fold()

asyncio.run(main())
"""


def test_a_forked_child_does_not_publish_its_parents_pending_requests(tmp_path: Path) -> None:
    _run(FORK_WITH_PENDING, tmp_path)
    ok = frozenset({"method": "GET", "route": "/api/health", "status": "200"}.items())
    values = _values(_run(SCRAPE, tmp_path))
    assert values[("roost_http_requests_total", ok)] == 1
    assert values[("roost_http_request_duration_seconds_count", ok)] == 1
    assert values[("roost_db_query_duration_seconds_count", frozenset())] == 1
    assert values[("roost_cache_requests_total", frozenset({"result": "hit"}.items()))] == 1
