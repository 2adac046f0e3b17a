"""Say where a hung test is stuck (registered by ``tests/conftest.py``).

pytest-timeout (``signal`` method, 600 s) fails a test that hangs and the run goes on. Its
traceback shows only where the event loop waits, not which task never finished, so shortly
before the timeout this plugin records every asyncio task with the chain of awaits it is stuck
in: attached to the failed report, and written to a file that the run's summary prints at the
end (an xdist worker's own output is easily lost in a long log). A hang the signal cannot
interrupt (inside C code, or a task that ignores cancellation when the loop closes) ends the
process after a grace period, as pytest-timeout's thread method would.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

#: the task dump is taken at this share of the timeout; a test still running this long after
#: the timeout (the signal could not stop it) ends the process
DUMP_AT, HARD_EXIT_GRACE = 0.9, 120.0
_DUMP = pytest.StashKey[list[str]]()
_DIR_VARIABLE = "ROOST_TEST_HANG_DIR"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist): workers inherit it
        os.environ[_DIR_VARIABLE] = tempfile.mkdtemp(prefix="roost-hangs-")


def _record(nodeid: str, dump: list[str]) -> None:
    dump.extend(running_tasks())
    folder = os.environ.get(_DIR_VARIABLE)
    if folder:
        name = f"{os.getpid()}-{abs(hash(nodeid))}.txt"
        (Path(folder) / name).write_text(nodeid + "\n" + "\n".join(dump) + "\n")


def _await_chain(coro: Any) -> list[str]:
    lines = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


def running_tasks() -> list[str]:
    """Every task of every running event loop, with where it waits (called from another thread)."""
    out: list[str] = []
    for loop in [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]:
        for task in list(asyncio.all_tasks(loop)):
            out.append(repr(task)[:240])
            out.extend(_await_chain(task.get_coro()))
    return out


def _hard_exit() -> None:
    sys.stderr.write("test still running after the timeout: stacks follow, the process ends\n")
    sys.stderr.write("\n".join(running_tasks()) + "\n")
    faulthandler.dump_traceback(all_threads=True)
    sys.stderr.flush()
    os._exit(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    dump: list[str] = []
    item.stash[_DUMP] = dump
    timeout = float(item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)
    if timeout <= 0:
        yield
        return
    timers = [threading.Timer(timeout * DUMP_AT, lambda: _record(item.nodeid, dump)),
              threading.Timer(timeout + HARD_EXIT_GRACE, _hard_exit)]  # fmt: skip
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any]:
    outcome = yield
    report = outcome.get_result()
    dump = item.stash.get(_DUMP, [])
    if report.failed and dump:
        report.sections.append(("asyncio tasks shortly before the timeout", "\n".join(dump)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    folder = os.environ.get(_DIR_VARIABLE)
    if not folder or hasattr(terminalreporter.config, "workerinput"):
        return
    for path in sorted(Path(folder).glob("*.txt")):
        terminalreporter.write_sep("=", "hung test: the asyncio tasks it waited on")
        terminalreporter.write_line(path.read_text())
