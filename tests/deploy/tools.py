"""Find the external checkers the deployment tests run, or skip (fail under required services)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
#: checkov pins old versions of boto3 and packaging, so .ci/run gives it its own venv
CHECKOV_VENV = REPO_ROOT / ".venv-checkov"


def tool(name: str, *, hint: str, installable: bool = True) -> str:
    """The path of ``name`` (this venv first, then PATH), or skip with ``hint`` as the reason.

    A missing tool fails the test under ``ROOST_TEST_SERVICES=required`` unless it is not
    ``installable`` from the registries CI can reach (then it always skips).
    """
    extra = [Path(sys.executable).parent, CHECKOV_VENV / "bin", Path("/usr/sbin")]
    for folder in extra:
        candidate = folder / name
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if not installable:
        pytest.skip(f"{name} is not installed ({hint})")
    skip_or_fail(f"{name} is not installed ({hint})")
    raise AssertionError("unreachable")


def run(command: list[str], *, cwd: Path | None = None, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1", **(env or {}))
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    binary = tool("check-jsonschema", hint="pip install check-jsonschema")
    return run([binary, "--builtin-schema", schema, str(path)])
