"""deploy/compose: the compose file validates against the Compose specification's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .tools import DEPLOY, check_jsonschema

COMPOSE = DEPLOY / "compose" / "compose.yaml"


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = check_jsonschema("vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_compose_file_is_rejected_by_the_same_check(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restart_policy: always", 1))
    result = check_jsonschema("vendor.compose-spec", broken)
    assert result.returncode != 0
    assert "restart_policy" in result.stdout + result.stderr


def test_default_profile_is_one_sqlite_instance() -> None:
    default = {name: svc for name, svc in _services().items() if not svc.get("profiles")}
    assert list(default) == ["roost"]
    env = default["roost"]["environment"]
    assert "ROOST_DB_URL" not in env and "ROOST_REDIS_URL" not in env
    assert default["roost"]["volumes"] == ["roost_data:/data"]


def test_cluster_profile_runs_three_instances_on_postgres_and_redis_behind_nginx() -> None:
    cluster = {name: svc for name, svc in _services().items() if "cluster" in svc.get("profiles", [])}
    instances = sorted(name for name in cluster if name.startswith("roost-") and name != "roost-init")
    assert instances == ["roost-1", "roost-2", "roost-3"]
    assert {"postgres", "redis", "nginx", "roost-init"} <= set(cluster)
    for name in instances:
        env = cluster[name]["environment"]
        assert env["ROOST_DB_URL"].startswith("postgresql://") and "@postgres:5432/" in env["ROOST_DB_URL"]
        assert env["ROOST_REDIS_URL"] == "redis://redis:6379/0"
        assert cluster[name]["depends_on"]["roost-init"] == {"condition": "service_completed_successfully"}
    upstreams = (DEPLOY / "compose" / "nginx-cluster.conf").read_text()
    for name in instances:
        assert f"server {name}:8090" in upstreams
