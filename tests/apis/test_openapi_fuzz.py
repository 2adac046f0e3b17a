"""Property-based run of schemathesis against a live Roost: generated requests from the
OpenAPI document must never get a 5xx, and every answer must match what the document says."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.servers import LiveServer, RoostNotReady, ServiceUnavailable, start_server

#: (method, path) -> status codes received, to check that the run reached real successes
STATUSES: dict[tuple[str, str], list[int]] = {}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: streams and upgrades never end on their own
SKIPPED = {("GET", "/api/realtime"), ("GET", "/api/realtime/ws")}
#: superuser routes that cannot break the rest of the run (no deletes, imports or settings writes)
SUPERUSER_ADMIN = {
    ("GET", "/api/collections"), ("POST", "/api/collections"), ("GET", "/api/collections/{collection}"),
    ("PATCH", "/api/collections/{collection}"), ("GET", "/api/settings"), ("GET", "/api/collections/meta/scaffolds"),
    ("POST", "/api/collections/users/impersonate/{id}"), ("POST", "/api/files/token"),
}
#: operations whose inputs are richest get a longer run (collection definitions once gave 500s)
MORE_EXAMPLES = {("POST", "/api/collections"): 40}
NOTES = {
    "name": "notes", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
    "fields": [
        {"name": "title", "type": "text", "required": True, "max": 40},
        {"name": "n", "type": "number", "min": -1000, "max": 1000},
        {"name": "done", "type": "bool"},
        {"name": "kind", "type": "select", "values": ["a", "b"], "maxSelect": 1},
        {"name": "tags", "type": "select", "values": ["x", "y", "z"], "maxSelect": 3},
        {"name": "meta", "type": "json"},
        {"name": "when", "type": "date"},
        {"name": "site", "type": "url"},
        {"name": "loc", "type": "geoPoint"},
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "att", "type": "file", "maxSelect": 2},
        {"name": "secret", "type": "text", "hidden": True},
        {"name": "created", "type": "autodate", "onCreate": True},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveServer, str]]:
    try:
        server = start_server("roost")
    except (RoostNotReady, ServiceUnavailable) as exc:
        pytest.fail(f"cannot start roost: {exc}")
    with server:
        token = server.superuser_token()
        with server.client(headers={"Authorization": token}) as http:
            assert http.post("/api/collections", json=NOTES).status_code == 200
            view = {"name": "note_view", "type": "view", "listRule": "", "viewRule": "", "viewQuery": "SELECT id, title FROM notes"}
            assert http.post("/api/collections", json=view).status_code == 200
            off = {"roostAuth": {"loginThrottle": {"enabled": False}}}
            assert http.patch("/api/settings", json=off).status_code == 200
            http.post("/api/collections/notes/records", json={"title": "seed"}).raise_for_status()
        yield server, token


def _schema(server: LiveServer, token: str) -> Any:
    doc = httpx.get(server.base_url + "/api/openapi.json", headers={"Authorization": token}).json()
    return schemathesis.openapi.from_dict(doc)


def _operations(schema: Any, keep: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if keep(op.method.upper(), op.path)]


def _fuzz_all(operations: list[Any], base_url: str, headers: dict[str, str], examples: int) -> None:
    failures: list[str] = []
    for operation, mode in itertools.product(operations, GenerationMode):
        try:
            _fuzz(operation, mode, base_url, headers, MORE_EXAMPLES.get((operation.method.upper(), operation.path), examples))
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.path  # nothing to get wrong in this request
        except (Exception, BaseExceptionGroup) as exc:  # gather every operation's findings into one report
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], examples: int) -> None:
    seen = STATUSES.setdefault((operation.method.upper(), operation.path), [])

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)  # fmt: skip
    def run(case: Any) -> None:
        res = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, allow_redirects=False, timeout=30)
        seen.append(res.status_code)

    run()


def test_guest_requests_match_the_document(live: tuple[LiveServer, str]) -> None:
    server, token = live
    # the "{collection}" templates answer 404 to any generated name: the concrete paths say more
    ops = _operations(_schema(server, token), lambda method, path: (method, path) not in SKIPPED and "{collection}" not in path)
    assert len(ops) > 60
    _fuzz_all(ops, server.base_url, {}, 5)
    assert 200 in STATUSES[("GET", "/api/collections/notes/records")]
    assert 204 in STATUSES[("POST", "/api/collections/users/request-password-reset")]


def _superuser_target(method: str, path: str) -> bool:
    if path.startswith(("/api/collections/notes/", "/api/collections/note_view/")):
        return True
    return (method, path) in SUPERUSER_ADMIN


def test_superuser_requests_match_the_document(live: tuple[LiveServer, str]) -> None:
    server, token = live
    ops = _operations(_schema(server, token), _superuser_target)
    # notes: list, create, view, update, delete, aggregate, export and import;
    # note_view: list, view, aggregate and export
    assert len(ops) == 12 + len(SUPERUSER_ADMIN)
    _fuzz_all(ops, server.base_url, {"Authorization": token}, 10)
    assert 200 in STATUSES[("POST", "/api/collections/notes/records")]
