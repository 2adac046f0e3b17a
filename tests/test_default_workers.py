"""How many workers ``roost serve`` starts when ``--workers`` is not given."""

from __future__ import annotations

import pytest

from roost.cli import _with_default_workers
from roost.config import Config, cpu_count


@pytest.fixture(autouse=True)
def no_workers_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOST_WORKERS", raising=False)  # the suite sets it to 1 for its servers


@pytest.mark.parametrize(
    ("settings", "custom", "expected"),
    [
        ({}, False, cpu_count()),
        ({"workers": 1}, False, 1),
        ({"workers": 3}, False, 3),
        ({"dev": True}, False, 1),
        ({"hooks_watch": True}, False, 1),
        ({"dev": True, "hooks_watch": False}, False, 1),
        ({}, True, 1),
        ({"workers": 3}, True, 3),  # then refused by `serve`, with the reason
    ],
)
def test_default_workers(settings: dict[str, object], custom: bool, expected: int) -> None:
    assert _with_default_workers(Config(**settings), custom).workers == expected  # type: ignore[arg-type]


def test_the_workers_variable_counts_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_WORKERS", "1")
    assert _with_default_workers(Config(), False).workers == 1
