"""deploy/systemd: the unit passes ``systemd-analyze verify`` with no warning."""

from __future__ import annotations

import sys
from pathlib import Path

from .tools import DEPLOY, run, tool

UNIT = DEPLOY / "systemd" / "roost.service"


def _verify(tmp_path: Path, text: str) -> tuple[int, str]:
    analyze = tool("systemd-analyze", hint="apt-get install systemd")
    # verify checks that ExecStart exists: point it at this venv's roost instead of /opt/roost
    unit = tmp_path / "roost.service"
    unit.write_text(text.replace("/opt/roost/bin/roost", str(Path(sys.executable).parent / "roost")))
    result = run([analyze, "verify", "--man=no", str(unit)])
    return result.returncode, result.stdout + result.stderr


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    status, output = _verify(tmp_path, UNIT.read_text())
    assert status == 0 and output.strip() == "", output


def test_verify_reports_a_bad_value(tmp_path: Path) -> None:
    _, output = _verify(tmp_path, UNIT.read_text().replace("TimeoutStopSec=30", "TimeoutStopSec=thirty"))
    assert "thirty" in output


def test_unit_serves_on_loopback_and_stops_gracefully() -> None:
    text = UNIT.read_text()
    assert "ExecStart=/opt/roost/bin/roost serve --http 127.0.0.1:8090" in text
    assert "KillSignal=SIGTERM" in text and "TimeoutStopSec=30" in text
    assert "User=roost" in text and "NoNewPrivileges=yes" in text
