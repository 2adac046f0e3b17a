"""Replay the request corpus and compare every answer with the reference server's snapshot."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import launch
from .differential import (
    SNAPSHOT_PATH,
    Normaliser,
    Outcome,
    comparable,
    corpus_files,
    describe_difference,
    iter_differences,
    load_corpus,
    load_snapshot,
    run_corpus,
    to_snapshot,
)
from .servers import KINDS, SUPERUSER_EMAIL, SUPERUSER_PASSWORD


def _run_everything(kind: str) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[Outcome]] = {}
    for path in corpus_files():
        server = launch(kind)
        try:
            results[path.stem] = run_corpus(
                server.base_url, path, (SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
            )
        finally:
            server.stop()
    return to_snapshot(results)


def _cases() -> list[tuple[str, str]]:
    return [(path.stem, request["name"]) for path in corpus_files() for request in load_corpus(path)]


CASES = _cases()


@pytest.fixture(scope="module")
def snapshot() -> dict[str, dict[str, dict[str, Any]]]:
    if not SNAPSHOT_PATH.exists():
        pytest.fail("no snapshot: run python -m tests.e2e.differential --record", pytrace=False)
    return {
        corpus: {item["name"]: item for item in items} for corpus, items in load_snapshot().items()
    }


@pytest.fixture(scope="module")
def corpus_run(request: pytest.FixtureRequest) -> dict[str, dict[str, dict[str, Any]]]:
    """The whole corpus played once per kind, each corpus file on its own fresh server."""
    results = _run_everything(request.param)
    return {corpus: {item["name"]: item for item in items} for corpus, items in results.items()}


@pytest.mark.parametrize("corpus_run", KINDS, indirect=True, scope="module")
@pytest.mark.parametrize(("corpus", "name"), CASES, ids=[f"{c}::{n}" for c, n in CASES])
def test_answer_matches_reference_snapshot(
    corpus_run: dict[str, dict[str, dict[str, Any]]],
    snapshot: dict[str, dict[str, dict[str, Any]]],
    corpus: str,
    name: str,
) -> None:
    expected = snapshot.get(corpus, {}).get(name)
    assert expected is not None, f"{corpus}::{name} is not in the snapshot; re-record it"
    actual = corpus_run[corpus][name]
    assert comparable(actual) == comparable(expected), (
        f"{expected['request']}\n{describe_difference(expected, actual)}"
    )


def test_reference_normalisation_is_stable_across_fresh_servers() -> None:
    first = _run_everything("pocketbase")
    second = _run_everything("pocketbase")
    differences = list(iter_differences(first, second))
    report = "\n\n".join(f"{c}::{n}\n{diff}" for c, n, diff in differences[:10])
    assert not differences, f"{len(differences)} answers changed between two runs:\n{report}"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150


# ---- the normaliser itself (no server needed) ----------------------------------------------


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_normaliser_numbers_ids_by_first_appearance_and_keeps_literals() -> None:
    normaliser = Normaliser({"post00000000001"})
    body = {"id": "k3j9x0a1b2c3d4e", "rel": ["zz9x0a1b2c3d4e5", "k3j9x0a1b2c3d4e"], "p": "post00000000001"}
    assert normaliser.normalise(body) == {"id": "<id:1>", "rel": ["<id:2>", "<id:1>"], "p": "post00000000001"}
    assert normaliser.normalise({"message": "Invalid value k3j9x0a1b2c3d4e."}) == {
        "message": "Invalid value <id:1>."
    }


def test_normaliser_replaces_only_timestamps_near_the_run() -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.123Z")
    normaliser = Normaliser(set())
    assert normaliser.normalise([now, "2024-01-02 03:04:05.000Z"]) == [
        "<now>",
        "2024-01-02 03:04:05.000Z",
    ]


def test_normaliser_describes_tokens_and_file_names() -> None:
    token = _jwt({"id": "x", "type": "auth", "collectionId": "_pb_users_auth_", "refreshable": False})
    normaliser = Normaliser(set(), random_keys={"slug"})
    assert normaliser.normalise(
        {"token": token, "doc": "report_ab12cd34ef.txt", "slug": "slug-123"}
    ) == {"token": "<jwt:auth:_pb_users_auth_:non-refreshable>", "doc": "report_<rand>.txt", "slug": "<random>"}


def test_iter_differences_reports_changed_and_missing_answers() -> None:
    expected = {"c": [{"name": "a", "request": "GET /", "status": 200, "body": {"x": 1}},
                      {"name": "b", "request": "GET /", "status": 200, "body": None}]}
    actual = {"c": [{"name": "a", "request": "GET /", "status": 200, "body": {"x": 2}}]}
    found: Iterator[tuple[str, str, str]] = iter_differences(expected, actual)
    assert [(c, n) for c, n, _ in found] == [("c", "a"), ("c", "b")]
