"""deploy/kubernetes: each overlay renders with ``kubectl kustomize`` and every object validates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import DEPLOY, run, tool

OVERLAYS = DEPLOY / "kubernetes" / "overlays"
#: the oldest Kubernetes minor still supported by the major clouds when this was written
KUBERNETES_VERSION = "1.30.0"


def _render(overlay: str, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    kubectl = tool("kubectl", hint="apt-get install kubernetes-client, or any kubectl with kustomize v4+")
    result = run([kubectl, "kustomize", str(OVERLAYS / overlay)])
    assert result.returncode == 0, result.stderr
    out = tmp_path / f"{overlay}.yaml"
    out.write_text(result.stdout)
    return out, [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _validate(path: Path) -> str:
    validator = tool("kubernetes-validate", hint="pip install kubernetes-validate")
    result = run([validator, "--strict", "-k", KUBERNETES_VERSION, str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


@pytest.mark.parametrize("overlay", ["single", "cluster"])
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay: str, tmp_path: Path) -> None:
    path, docs = _render(overlay, tmp_path)
    report = _validate(path)
    for doc in docs:
        assert f"{doc['kind'].lower()}/{doc['metadata']['name']}" in report
        assert doc["metadata"]["namespace"] == "roost"


def test_the_validator_rejects_an_object_with_a_wrong_field(tmp_path: Path) -> None:
    _, docs = _render("cluster", tmp_path)
    deployment = _by_kind(docs)["Deployment"][0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/x"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    validator = tool("kubernetes-validate", hint="pip install kubernetes-validate")
    result = run([validator, "--strict", "-k", KUBERNETES_VERSION, str(bad)])
    assert result.returncode != 0
    assert "paht" in result.stdout + result.stderr


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "roost")


def test_single_overlay_keeps_one_sqlite_writer_on_a_persistent_volume(tmp_path: Path) -> None:
    _, docs = _render("single", tmp_path)
    kinds = _by_kind(docs)
    deployment = kinds["Deployment"][0]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "roost-data"}}
    assert kinds["PersistentVolumeClaim"][0]["metadata"]["name"] == "roost-data"
    env = {e["name"] for e in _container(deployment).get("env", [])}
    assert "ROOST_DB_URL" not in env
    assert "HorizontalPodAutoscaler" not in kinds


def test_cluster_overlay_scales_on_cpu_behind_an_ingress_that_streams(tmp_path: Path) -> None:
    _, docs = _render("cluster", tmp_path)
    kinds = _by_kind(docs)
    deployment = kinds["Deployment"][0]
    container = _container(deployment)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/api/health"
    env = {e["name"]: e for e in container["env"]}
    assert env["ROOST_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "roost-secrets", "key": "db-url"}
    assert env["ROOST_ENCRYPTION_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "encryption-key"
    hpa = kinds["HorizontalPodAutoscaler"][0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = kinds["PodDisruptionBudget"][0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["selector"]["matchLabels"].items()
    annotations = kinds["Ingress"][0]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 300
    external = {s["metadata"]["name"]: s["spec"] for s in kinds["Service"] if s["spec"]["type"] == "ExternalName"}
    assert set(external) == {"postgres", "redis"}
    secret_keys = set(kinds["Secret"][0]["stringData"])
    assert {"encryption-key", "superuser-email", "superuser-password", "db-url"} <= secret_keys
