"""Fixtures for the end-to-end tests: live servers of each kind and the JS SDK driver."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .sdk import SdkDriver, ensure_node_modules
from .servers import (
    KINDS,
    LiveServer,
    RoostNotReady,
    ServiceUnavailable,
    services_required,
    start_server,
)

E2E_DIR = Path(__file__).resolve().parent
GAPS_FILE = E2E_DIR / "roost_known_gaps.txt"
GAPS_HEADER = """\
# Roost-side e2e tests that are known to fail today (one "<file>::<test id>" a line).
# They run as non-strict xfail so that CI stays green while compatibility grows; anything not
# listed here must pass. Regenerate after fixing gaps:
#   ROOST_E2E_RECORD_GAPS=1 .venv/bin/python -m pytest tests/e2e -n 2 -k roost
"""
_failed_roost_keys: set[str] = set()


def skip_unavailable(reason: str) -> None:
    """Skip (or fail under ``ROOST_TEST_SERVICES=required``) when a needed tool is missing."""
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def launch(kind: str) -> LiveServer:
    try:
        return start_server(kind)
    except RoostNotReady as exc:
        pytest.skip(f"roost server not available yet: {exc}")
    except ServiceUnavailable as exc:
        skip_unavailable(str(exc))
    raise AssertionError("unreachable")


def _gap_key(nodeid: str) -> str:
    return nodeid.rsplit("/", 1)[-1]


def _is_roost_item(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(v in ("roost", "roost-pg", "roost-mysql") for v in callspec.params.values())


def _known_gaps() -> set[str]:
    if not GAPS_FILE.exists():
        return set()
    lines = (line.strip() for line in GAPS_FILE.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    gaps = _known_gaps()
    for item in items:
        if E2E_DIR not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if _is_roost_item(item) and _gap_key(item.nodeid) in gaps:
            item.add_marker(pytest.mark.xfail(reason="known Roost gap (roost_known_gaps.txt)", strict=False))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not os.environ.get("ROOST_E2E_RECORD_GAPS") or not re.search(r"[\[-]roost(-pg|-mysql)?\]$", report.nodeid):
        return
    if report.failed or (report.skipped and hasattr(report, "wasxfail")):
        _failed_roost_keys.add(_gap_key(report.nodeid))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not os.environ.get("ROOST_E2E_RECORD_GAPS") or hasattr(session.config, "workerinput"):
        return
    GAPS_FILE.write_text(GAPS_HEADER + "".join(f"{key}\n" for key in sorted(_failed_roost_keys)))


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """One server per test module and kind; tests in a module share its state."""
    live = launch(request.param)
    yield live
    live.stop()


@pytest.fixture
def fresh_server() -> Iterator[Callable[[str], LiveServer]]:
    """Factory for a server that lives only for the current test."""
    started: list[LiveServer] = []

    def make(kind: str) -> LiveServer:
        live = launch(kind)
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture(scope="session")
def sdk() -> SdkDriver:
    try:
        return SdkDriver(ensure_node_modules())
    except ServiceUnavailable as exc:
        skip_unavailable(str(exc))
    raise AssertionError("unreachable")
