"""deploy/aws: the Terraform module passes ``terraform fmt -check`` and checkov; the
CloudFormation stack passes cfn-lint and checkov."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from .tools import DEPLOY, run, tool

TERRAFORM = DEPLOY / "aws" / "terraform"
STACK = DEPLOY / "aws" / "cloudformation" / "roost.yaml"


def _checkov(target: Path, framework: str) -> dict[str, object]:
    checkov = tool("checkov", hint="python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov")
    flag = "-d" if target.is_dir() else "-f"
    # --skip-download: no policy metadata from the vendor's API (there is no network here)
    result = run([checkov, flag, str(target), "--framework", framework, "--quiet", "--compact",
                  "--skip-download", "-o", "json"], timeout=600)
    report = json.loads(result.stdout)
    summary = report["summary"] if isinstance(report, dict) else report[0]["summary"]
    failed = report["results"]["failed_checks"] if isinstance(report, dict) else report[0]["results"]["failed_checks"]
    assert result.returncode == 0, [(f["check_id"], f["resource"]) for f in failed]
    return dict(summary)


def test_terraform_module_is_formatted() -> None:
    terraform = tool("terraform", hint="Terraform is packaged by neither Debian nor PyPI", installable=False)
    result = run([terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)])
    assert result.returncode == 0, result.stdout


def test_terraform_fmt_notices_a_misformatted_file(tmp_path: Path) -> None:
    terraform = tool("terraform", hint="Terraform is packaged by neither Debian nor PyPI", installable=False)
    copy = tmp_path / "tf"
    shutil.copytree(TERRAFORM, copy)
    (copy / "outputs.tf").write_text((copy / "outputs.tf").read_text().replace("  value       =", "  value =", 1))
    assert run([terraform, "fmt", "-check", str(copy)]).returncode != 0


#: a filesystem mirror of the AWS provider that this machine kind ships (no registry download)
PROVIDER_MIRROR = Path(os.environ.get("ROOST_TF_PLUGIN_DIR", "/opt/tf-plugins"))


def _validate(module: Path) -> str:
    terraform = tool("terraform", hint="Terraform is packaged by neither Debian nor PyPI", installable=False)
    if not (PROVIDER_MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local mirror of the AWS provider at {PROVIDER_MIRROR} (terraform init would download it)")
    init = run([terraform, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PROVIDER_MIRROR}"],
               cwd=module)
    assert init.returncode == 0, init.stdout + init.stderr
    result = run([terraform, "validate", "-no-color"], cwd=module)
    return f"{result.returncode}\n{result.stdout}{result.stderr}"


def test_terraform_module_validates_against_the_aws_provider_schema(tmp_path: Path) -> None:
    module = tmp_path / "tf"
    shutil.copytree(TERRAFORM, module)
    report = _validate(module)
    assert report.startswith("0\n") and "The configuration is valid" in report, report


def test_terraform_validate_rejects_an_unknown_argument(tmp_path: Path) -> None:
    module = tmp_path / "tf"
    shutil.copytree(TERRAFORM, module)
    (module / "alb.tf").write_text((module / "alb.tf").read_text().replace("idle_timeout = 3600", "idle_timeuot = 3600"))
    report = _validate(module)
    assert not report.startswith("0\n") and "idle_timeuot" in report, report


def test_terraform_module_passes_checkov() -> None:
    summary = _checkov(TERRAFORM, "terraform")
    assert summary["failed"] == 0 and int(str(summary["passed"])) > 100


def test_every_checkov_skip_in_the_module_gives_a_reason() -> None:
    for path in TERRAFORM.glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_AWS_\d+:\S.{10,}", line), (path.name, line)


def test_terraform_module_declares_the_whole_stack() -> None:
    text = "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf"))
    for resource in ("aws_ecs_service", "aws_lb", "aws_db_instance", "aws_elasticache_replication_group",
                     "aws_s3_bucket", "aws_secretsmanager_secret", "aws_appautoscaling_policy"):
        assert f'resource "{resource}"' in text, resource
    assert 'launch_type                        = "FARGATE"' in text
    assert '"/api/health"' in text


def test_cloudformation_stack_passes_cfn_lint() -> None:
    cfn_lint = tool("cfn-lint", hint="pip install cfn-lint")
    result = run([cfn_lint, str(STACK)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_rejects_a_misspelt_property(tmp_path: Path) -> None:
    cfn_lint = tool("cfn-lint", hint="pip install cfn-lint")
    broken = tmp_path / "roost.yaml"
    broken.write_text(STACK.read_text().replace("HealthCheckPath: /api/health", "HealthCheckPth: /api/health"))
    result = run([cfn_lint, str(broken)])
    assert result.returncode != 0 and "HealthCheckPth" in result.stdout


def test_cloudformation_stack_passes_checkov() -> None:
    summary = _checkov(STACK, "cloudformation")
    assert summary["failed"] == 0 and int(str(summary["passed"])) > 50


def test_cloudformation_stack_declares_the_same_services_as_the_module() -> None:
    text = STACK.read_text()
    for kind in ("AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::RDS::DBInstance",
                 "AWS::ElastiCache::ReplicationGroup", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
                 "AWS::ApplicationAutoScaling::ScalingPolicy"):
        assert f"Type: {kind}" in text, kind
    # asyncpg takes ssl=, not libpq's sslmode= (which Roost would refuse at connect)
    assert "?ssl=require" in text and "sslmode" not in text
    assert "?ssl=require" in (TERRAFORM / "secrets.tf").read_text()


LAMBDA_TEMPLATE = DEPLOY / "aws" / "lambda" / "template.yaml"


def test_lambda_template_passes_cfn_lint_and_checkov() -> None:
    cfn_lint = tool("cfn-lint", hint="pip install cfn-lint")
    result = run([cfn_lint, str(LAMBDA_TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert _checkov(LAMBDA_TEMPLATE, "cloudformation")["failed"] == 0
    text = LAMBDA_TEMPLATE.read_text()
    assert "Handler: roost.lambda_handler.handler" in text and "Type: HttpApi" in text
