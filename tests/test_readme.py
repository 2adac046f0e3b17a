"""The README's quick start is itself a test: its commands run against a live server."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ROOST = Path(sys.executable).parent / "roost"


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readme_opens_with_the_serve_and_test_commands() -> None:
    first, second = _blocks()[:2]
    assert "pip install" in first and "roost serve" in first
    assert "pip install -e '.[test]'" in second and "pytest" in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'" in ci
    assert ".venv/bin/python -m pytest -n auto" in ci


def test_try_it_block_creates_and_lists_a_record(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    try_it = next(b for b in _blocks() if "auth-with-password" in b)
    port = _free_port()
    data = tmp_path / "data"
    subprocess.run([str(ROOST), "superuser", "upsert", "admin@example.com", "changeme123", "--dir", str(data)], check=True)
    server = subprocess.Popen([str(ROOST), "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data)])
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        script = try_it.replace("127.0.0.1:8090", f"127.0.0.1:{port}")
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = out.stdout.strip().splitlines()[-1]
        assert '"title":"Hello"' in listed and '"totalItems":1' in listed
    finally:
        server.terminate()
        server.wait(timeout=10)
