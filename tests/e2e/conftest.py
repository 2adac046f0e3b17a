"""Fixtures for the end-to-end tests: live servers of each kind and the JS SDK driver."""

from __future__ import annotations

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
            item.add_marker(pytest.mark.xfail(reason="deliberate difference (roost_known_gaps.txt)", strict=True))


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
