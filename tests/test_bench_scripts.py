"""The benchmark scripts under ``bench/`` are run by hand, not by the suite: each still compiles
and ``bench/run.py --help`` still parses its options (a broken merge of its option list once
went unnoticed)."""

from __future__ import annotations

import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(BENCH.rglob("*.py")), ids=lambda path: str(path.relative_to(BENCH)))
def test_bench_script_compiles(script: Path) -> None:
    py_compile.compile(str(script), doraise=True, cfile=None, optimize=-1)


def test_bench_run_lists_its_options() -> None:
    out = subprocess.run([sys.executable, str(BENCH / "run.py"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("--roost-logs-off", "--roost-otel", "--roost-metrics-off", "--scenarios", "--configs"):
        assert option in out.stdout
