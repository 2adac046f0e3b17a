"""The benchmark scripts under ``bench/`` are run by hand, not by the suite: each still compiles
and ``bench/run.py --help`` still parses its options (a broken merge of its option list once
went unnoticed)."""

from __future__ import annotations

import importlib.util
import json
import py_compile
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
    run = _bench_run(monkeypatch)
    given = ["health", "create", "list", "view-auth", "list-auth"]
    assert run.run_order(given) == ["health", "list", "view-auth", "list-auth", "create"]
    assert run.run_order(run.ALL_SCENARIOS)[-1] == "create"


def _load(monkeypatch: pytest.MonkeyPatch, name: str, script: str) -> Any:
    """``bench/<script>`` as module ``name`` (its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def _bench_run(monkeypatch: pytest.MonkeyPatch) -> Any:
    return _load(monkeypatch, "bench_run", "run.py")


#: a process that works for about ``sys.argv[1]`` CPU seconds, then sleeps
_WORK_THEN_SLEEP = "import sys, time\nend = time.process_time() + float(sys.argv[1])\nwhile time.process_time() < end: pass\ntime.sleep(60)\n"


def test_work_left_after_a_round_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that keeps working after its round (a log backlog) is waited for, and the CPU it
    used meanwhile is what the all-in figure adds; one that never goes idle is reported so."""
    run = _bench_run(monkeypatch)
    busy = subprocess.Popen([sys.executable, "-c", _WORK_THEN_SLEEP, "0.8"])
    forever = subprocess.Popen([sys.executable, "-c", _WORK_THEN_SLEEP, "600"])
    try:
        cpu, waited, idle = run.catch_up(SimpleNamespace(pid=busy.pid), limit=20)
        assert idle
        assert 0.4 <= cpu <= 1.3, cpu
        assert waited >= 0.4
        cpu, waited, idle = run.catch_up(SimpleNamespace(pid=forever.pid), limit=1.0)
        assert not idle
        assert cpu >= 0.3 and waited >= 1.0
    finally:
        busy.kill()
        forever.kill()
        busy.wait()
        forever.wait()


def test_the_all_in_table_compares_cpu_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _bench_run(monkeypatch)
    def one_round(rps: float, cpu_ms: float, all_in_ms: float, after_s: float, requests: int) -> dict[str, Any]:
        return {"ok": True, "rps": rps, "latency_us": {"p50": 1, "p99": 2}, "server_cpu_cores": 1.5,
                "server_cpu_ms_per_req": cpu_ms, "all_in_cpu_ms_per_req": all_in_ms, "after_s": after_s,
                "went_idle": True, "requests": requests, "statuses": {"200": requests}, "errors": {}}  # fmt: skip

    rounds = {"roost": [one_round(100.0, 0.06, 0.06, 0.2, 500)], "pocketbase": [one_round(150.0, 0.05, 0.075, 4.0, 750)]}
    entry = {"title": "health", "failed": False, **{k: run.summarise_rounds(v) for k, v in rounds.items()}}
    entry["all_in_ratio"] = entry["pocketbase"]["all_in_cpu_ms_per_req_median"] / entry["roost"]["all_in_cpu_ms_per_req_median"]
    table = run.all_in_table({"results": [{"size": 10, "config": "default", "scenarios": {"health": entry}}]})
    assert "| 10 | health | 1.25 (60.0 µs / 75.0 µs; PB +4.0 s) |" in table
    older = {"results": [{"size": 10, "config": "default", "scenarios": {"health": {"title": "health", "failed": False}}}]}
    assert run.all_in_table(older) == []  # a report from before the all-in figures renders without the table


def _bench_sustained(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("bench_floor", "bench_run"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return _load(monkeypatch, "bench_sustained", "sustained.py")


@pytest.mark.parametrize("ids", ["time", "random"])
def test_a_grown_log_holds_rows_shaped_as_each_server_writes_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ids: str) -> None:
    """``--grown-log``: the rows land in the server's own table, each with a message of its own,
    with Roost's kind of ids (in time order) or PocketBase's (random), and the table keeps the
    indexes it had."""
    import sqlite3

    sustained = _bench_sustained(monkeypatch)
    with sqlite3.connect(tmp_path / "auxiliary.db") as db:
        db.execute('CREATE TABLE "_logs" ("id" TEXT PRIMARY KEY NOT NULL, "level" INTEGER DEFAULT 0 NOT NULL, '
                   '"message" TEXT DEFAULT \'\' NOT NULL, "data" JSON DEFAULT \'{}\' NOT NULL, "created" TEXT NOT NULL)')  # fmt: skip
        db.execute('CREATE INDEX "idx_logs_level" ON "_logs" ("level")')
        db.execute('CREATE INDEX "idx_logs_message" ON "_logs" ("message")')
    sustained.fill_log(tmp_path, 2500, ids)
    with sqlite3.connect(tmp_path / "auxiliary.db") as db:
        rows = db.execute('SELECT "id", "message", "data", "created" FROM "_logs" ORDER BY rowid').fetchall()
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert len(rows) == 2500 and len({r[1] for r in rows}) == 2500
    assert indexes == {"idx_logs_level", "idx_logs_message"}
    created = [r[3] for r in rows]
    assert created == sorted(created) and all(len(c) == 24 and c.endswith("Z") for c in created)
    assert all(json.loads(data)["url"] == message.removeprefix("GET ") for _, message, data, _ in rows)
    in_time_order = [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert in_time_order is (ids == "time")


class _Started(Exception):
    pass


def test_servers_run_outside_any_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``roost serve`` starts its supervisor and workers with ``python -m``, which puts the
    current directory first on the path: started from inside a checkout they would run that
    checkout's Roost, not the build under test (``--baseline`` names it through PYTHONPATH).
    The benches start servers in a directory without a ``roost`` package."""
    for name in ("bench_floor", "bench_run"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    floor = _load(monkeypatch, "bench_floor", "floor.py")
    edge = _load(monkeypatch, "bench_edge", "edge.py")
    started: list[dict[str, Any]] = []

    def popen(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs)
        if hasattr(kwargs.get("stdout"), "close"):
            kwargs["stdout"].close()  # the server's log file, opened for it
        raise _Started

    monkeypatch.chdir(BENCH.parent)  # the repository, which holds a roost package
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: None)
    with pytest.raises(_Started):
        floor.Target("roost", ["roost", "serve"]).start()
    with pytest.raises(_Started):
        edge.Served("roost", [], tmp_path, source="/elsewhere")
    assert len(started) == 2
    for kwargs in started:
        assert kwargs.get("cwd") is not None and not (Path(kwargs["cwd"]) / "roost").exists()
