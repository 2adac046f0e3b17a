"""deploy/ci: the CI/CD templates for users' projects validate against their published schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .tools import DEPLOY, check_jsonschema, run, tool

CI = DEPLOY / "ci"
TEMPLATES = [
    ("github-actions.yml", "vendor.github-workflows"),
    ("gitlab-ci.yml", "vendor.gitlab-ci"),
    ("circleci.yml", "vendor.circle-ci"),
]


@pytest.mark.parametrize(("name", "schema"), TEMPLATES)
def test_template_validates_against_its_published_schema(name: str, schema: str) -> None:
    result = check_jsonschema(schema, CI / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_gitlab_job_named_like_a_global_keyword_is_rejected(tmp_path: Path) -> None:
    broken = tmp_path / "gitlab-ci.yml"
    broken.write_text((CI / "gitlab-ci.yml").read_text().replace("build-image:", "image:"))
    assert check_jsonschema("vendor.gitlab-ci", broken).returncode != 0


@pytest.mark.parametrize("name", [n for n, _ in TEMPLATES] + ["Jenkinsfile"])
def test_template_migrates_a_service_postgres_runs_tests_and_builds_the_image(name: str) -> None:
    text = (CI / name).read_text()
    assert "roost migrate up" in text
    assert "postgresql://" in text and "postgres:17" in text
    assert "pytest" in text
    assert "docker build" in text or "build-push-action" in text or "kaniko" in text


def test_github_workflow_builds_the_image_only_after_the_tests() -> None:
    jobs = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"]
    assert jobs["image"]["needs"] == "test"
    assert "postgres" in jobs["test"]["services"]


def test_jenkinsfile_parses_as_groovy(tmp_path: Path) -> None:
    # no schema exists for Jenkins pipelines; a declarative pipeline is Groovy, so the Groovy
    # parser at least proves the syntax (Jenkins' own linter needs a running Jenkins)
    groovy = tool("groovy", hint="apt-get install groovy")
    # Debian's launcher looks for default-java, which other JDK installs may not provide
    java_home = {"JAVA_HOME": str(Path(tool("java", hint="apt-get install default-jre-headless")).resolve().parents[1])}
    script = tmp_path / "parse.groovy"
    script.write_text("new GroovyShell().parse(new File(args[0]))\nprintln 'parsed'\n")
    result = run([groovy, str(script), str(CI / "Jenkinsfile")], timeout=300, env=java_home)
    assert result.returncode == 0 and "parsed" in result.stdout, result.stdout + result.stderr
    broken = tmp_path / "Jenkinsfile"
    broken.write_text((CI / "Jenkinsfile").read_text().replace("stages {", "stages {{", 1))
    assert run([groovy, str(script), str(broken)], timeout=300, env=java_home).returncode != 0
