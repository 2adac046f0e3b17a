"""Debian's Prometheus scrapes a live two-worker ``roost serve`` and sees the totals of both.

The server runs ``--workers 2`` with Redis; Prometheus scrapes ``/api/metrics`` with the bearer
token from ``ROOST_METRICS_TOKEN``, loads ``deploy/monitoring/roost.rules.yml``, and the test
asks its HTTP API. Each worker answers some of the requests (``X-Roost-Instance`` tells which),
and the count Prometheus stores must be the sum over both, whichever worker it scraped. Every
query of the Grafana dashboard must also be valid PromQL there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import free_port
from tests.reliability.procs import RoostProcess

pytestmark = pytest.mark.e2e

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
TOKEN = "prometheus-scrape-token-0123456789"
VIEW = "/api/collections/{collection}/records/{id}"
WAIT = 90.0


def _prometheus() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        skip_or_fail("Debian's prometheus is not installed (apt-get install -y prometheus)")
    return str(binary)


@pytest.fixture
def roost(tmp_path: Path) -> Iterator[RoostProcess]:
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    # TMPDIR: the server's multiprocess directory is made where the test can look at it
    (tmp_path / "tmp").mkdir()
    env = {"ROOST_METRICS_TOKEN": TOKEN, "ROOST_INSTANCE_ID": "auto", "TMPDIR": str(tmp_path / "tmp")}
    proc = RoostProcess(tmp_path / "roost", extra=("--workers", "2", "--redis-url", REDIS_URL), env=env)
    proc.root.mkdir()
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
    assert not list((tmp_path / "tmp").glob("roost-metrics-*")), "the multiprocess directory outlived the server"


@pytest.fixture
def prometheus(tmp_path: Path, roost: RoostProcess) -> Iterator[str]:
    binary = _prometheus()
    root = tmp_path / "prometheus"
    root.mkdir()
    (root / "token").write_text(TOKEN)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(MONITORING / "roost.rules.yml")],
        "scrape_configs": [{
            "job_name": "roost", "metrics_path": "/api/metrics",
            "authorization": {"type": "Bearer", "credentials_file": str(root / "token")},
            "static_configs": [{"targets": [f"127.0.0.1:{roost.port}"]}],
        }],
    }  # fmt: skip
    (root / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    with (root / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _ready(url), f"prometheus did not start:\n{(root / 'prometheus.log').read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(check: Any, message: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(message)


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    assert res.status_code == 200, (promql, res.text)
    body = res.json()
    assert body["status"] == "success", (promql, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _scalar(url: str, promql: str) -> float | None:
    result = _query(url, promql)
    return float(result[0]["value"][1]) if result else None


def _spread_requests(base_url: str) -> Counter[str]:
    """Requests on new connections until both workers have answered some; per-worker counts."""
    answered: Counter[str] = Counter()
    while len(answered) < 2 or sum(answered.values()) < 20:
        assert sum(answered.values()) < 2000, f"one worker answered every request: {answered}"
        res = httpx.get(f"{base_url}/api/collections/nothing/records/abc", headers={"Connection": "close"}, timeout=10)
        assert res.status_code == 404
        answered[res.headers["x-roost-instance"]] += 1
    return answered


def test_prometheus_scrapes_the_totals_of_both_workers(roost: RoostProcess, prometheus: str) -> None:
    answered = _spread_requests(roost.base_url)
    sent = sum(answered.values())
    total = f'sum(roost_http_requests_total{{job="roost", route="{VIEW}", status="404"}})'
    _wait_for(lambda: _scalar(prometheus, total) == sent,
              f"Prometheus never stored {sent} requests ({dict(answered)}); last: {_scalar(prometheus, total)}")  # fmt: skip
    assert _scalar(prometheus, 'up{job="roost"}') == 1.0
    # one process series per live worker, labelled with its pid
    workers = {int(label.rsplit(":", 1)[1]) for label in answered}
    pids = {int(s["metric"]["pid"]) for s in _query(prometheus, 'process_resident_memory_bytes{job="roost"}')}
    assert pids == workers
    # the scrape itself is counted under its own route, never as a raw URL
    scrapes = 'sum(roost_http_requests_total{job="roost", route="/api/metrics", status="200"})'
    _wait_for(lambda: (_scalar(prometheus, scrapes) or 0) >= 1, "the scrapes themselves were never counted")
    assert not _query(prometheus, 'roost_http_requests_total{route=~".*nothing.*"}')


def test_the_alert_rules_load_and_evaluate(roost: RoostProcess, prometheus: str) -> None:
    def evaluated() -> bool:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return bool(rules) and all(rule.get("lastEvaluation", "").startswith("2") and
                                   not rule["lastEvaluation"].startswith("0001") for rule in rules)  # fmt: skip

    _wait_for(evaluated, "the rules were never evaluated")
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert {"RoostInstanceDown", "RoostHigh5xxRatio", "RoostHighLatencyP95", "RoostRateLimitSpike",
            "RoostRealtimeEventsDropped", "RoostJobFailures"} <= set(rules)  # fmt: skip
    assert {name: rule["health"] for name, rule in rules.items()} == dict.fromkeys(rules, "ok")


def test_every_dashboard_query_is_valid_promql(roost: RoostProcess, prometheus: str) -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) > 20
    for expr in exprs:
        concrete = expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*")
        _query(prometheus, concrete)


def _scrape(roost: RoostProcess) -> str:
    res = httpx.get(f"{roost.base_url}/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert res.status_code == 200, res.text
    return res.text


def test_a_dead_worker_leaves_its_counts_but_not_its_live_gauges(roost: RoostProcess, tmp_path: Path) -> None:
    (directory,) = (tmp_path / "tmp").glob("roost-metrics-*")
    answered = _spread_requests(roost.base_url)
    victim = int(next(iter(answered)).rsplit(":", 1)[1])
    assert victim in roost.worker_pids()
    _wait_for(lambda: (directory / f"gauge_livesum_{victim}.db").exists(), "the worker never wrote its live gauges")
    line = f'roost_http_requests_total{{method="GET",route="{VIEW}",status="404"}} {float(sum(answered.values()))}'
    # each worker publishes its requests within a second (Metrics.fold), whoever answers the scrape
    _wait_for(lambda: line in _scrape(roost).splitlines(), "the workers never published their requests")
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: victim not in roost.worker_pids(), f"the worker was not reaped: {roost.worker_pids()}")
    _wait_for(lambda: not (directory / f"gauge_livesum_{victim}.db").exists(), "the dead worker's live gauges stayed")
    assert (directory / f"counter_{victim}.db").exists()
    assert line in _scrape(roost).splitlines()  # the dead worker's requests are still in the total
