"""The benchmark scripts under ``bench/`` are run by hand, not by the suite: each still compiles
and ``bench/run.py --help`` still parses its options (a broken merge of its option list once
went unnoticed)."""

from __future__ import annotations

import importlib.util
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


def test_the_creates_run_after_every_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each server keeps the posts it created, so a read after the creates would compare
    different tables; the bench runs the creates last, whatever order it is given."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", run)  # its dataclasses look their module up
    spec.loader.exec_module(run)
    given = ["health", "create", "list", "view-auth", "list-auth"]
    assert run.run_order(given) == ["health", "list", "view-auth", "list-auth", "create"]
    assert run.run_order(run.ALL_SCENARIOS)[-1] == "create"
