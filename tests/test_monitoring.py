"""``deploy/monitoring/``: the Grafana dashboard, the alert rules and the Prometheus example.

promtool (from Debian's ``prometheus`` package) checks the rules, runs their unit tests and
checks the configuration; every metric the dashboard and the rules name must be one Roost
exposes, so a renamed metric cannot leave a silent panel or an alert that never fires.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from roost.tools.metrics import Metrics
from tests.conftest import skip_or_fail

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
#: series names Prometheus itself or the process collector provides
OTHER_SERIES = {"up", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"}


def exposed_series() -> set[str]:
    """Every series name a Roost scrape can carry."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {family.name + suffix for family in Metrics().registry.collect() for suffix in suffixes[family.type]}


def named_series(expr: str) -> set[str]:
    return set(re.findall(r"\b(?:roost|process)_[a-z_]+\b|\bup\b", expr))


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        skip_or_fail("promtool is not installed (apt-get install -y prometheus)")
    return str(binary)


def test_the_dashboard_is_valid_json_with_a_panel_per_area() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["type"] == "row" or panel["targets"]
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    named = set().union(*(named_series(expr) for expr in exprs))
    assert named - exposed_series() - OTHER_SERIES == set()
    for area in ("roost_http_requests_total", "roost_http_request_duration_seconds_bucket", "roost_http_requests_in_flight",
                 "roost_db_pool_checked_out", "roost_db_query_duration_seconds_bucket", "roost_cache_requests_total",
                 "roost_realtime_connections", "roost_realtime_events_total", "roost_ratelimit_rejections_total",
                 "roost_job_runs_total", "roost_mail_messages_total", "process_resident_memory_bytes"):  # fmt: skip
        assert area in named, area


def test_the_alert_rules_name_only_exposed_series() -> None:
    text = (MONITORING / "roost.rules.yml").read_text()
    exprs = re.findall(r"expr: (?:\|\n)?((?:.+\n)+?)(?=\s+(?:for|labels):)", text)
    assert len(exprs) >= 6
    named = set().union(*(named_series(expr) for expr in exprs))
    assert named - exposed_series() - OTHER_SERIES == set()


def test_promtool_accepts_the_rules_and_their_unit_tests() -> None:
    binary = promtool()
    rules = subprocess.run([binary, "check", "rules", str(MONITORING / "roost.rules.yml")], capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS" in rules.stdout
    tests = subprocess.run([binary, "test", "rules", "roost.rules.test.yml"], cwd=MONITORING, capture_output=True, text=True, timeout=60)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_promtool_accepts_the_example_configuration(tmp_path: Path) -> None:
    binary = promtool()
    for name in ("prometheus.yml", "roost.rules.yml"):
        shutil.copy(MONITORING / name, tmp_path / name)
    (tmp_path / "roost-metrics-token").write_text("a-token-for-the-check-only")  # the file the example names
    done = subprocess.run([binary, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["roost_http_requests_total", "roost_job_runs_total", "roost_db_pool_size"])
def test_exposed_series_knows_the_metric_names(name: str) -> None:
    assert name in exposed_series()
