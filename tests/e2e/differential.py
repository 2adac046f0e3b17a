"""Differential testing: play a corpus of HTTP requests against a server, normalise the answers.

A corpus file (``corpus/*.json``) is ``{"description": ..., "requests": [...]}``. Each request:

``name``       unique within the file; names the step in reports and in the snapshot
``method``     HTTP method; ``path`` the URL path (may hold a query string)
``query``      optional dict of query params (values may be lists); encoded for you
``auth``       ``"guest"`` (default), ``"superuser"``, or a name given earlier with ``save_auth``
``headers``    optional extra headers
body, one of:  ``json`` (any JSON value), ``form`` (urlencoded dict), ``multipart``
               (``{"fields": {k: v | [v]}, "files": [{"field", "name", "content", "type"}]}``),
               ``raw`` + ``content_type`` (sent as-is, e.g. broken JSON)
``capture``    store the raw response JSON under this name for later ``{{name.path}}`` templates
``save_auth``  store the response's ``token`` as a named auth for later requests
``note``       free text for the reader

Templates ``{{capture.dotted.path}}`` may appear in any string of path, query, headers or body.
A string that is exactly one template is replaced by the captured value itself (not its text).

Normalisation replaces what legitimately differs between two runs: generated record ids
(``<id:N>``, numbered by first appearance so the same id keeps its placeholder), server-made
timestamps near the time of the run (``<now>``), JWTs (``<jwt:type:collectionId>``), and the
random suffix of stored file names. Values written literally in the corpus are never replaced.

Run ``python -m tests.e2e.differential --record`` to refresh ``corpus/pocketbase_snapshot.json``
from a fresh reference server, or ``--kind roost --compare`` to see the differences for Roost.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import difflib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
SNAPSHOT_PATH = CORPUS_DIR / "pocketbase_snapshot.json"

_TEMPLATE = re.compile(r"\{\{\s*([\w.-]+)\s*\}\}")
_RECORD_ID = re.compile(r"^[a-z0-9]{15}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$")
_JWT = re.compile(r"^eyJ[\w-]*\.[\w-]+\.[\w-]+$")
_FILE_NAME = re.compile(r"^(.+)_[a-z0-9]{10}(\.\w+)$")
_NOW_WINDOW = dt.timedelta(days=2)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS_DIR.glob("*.json") if p != SNAPSHOT_PATH)


def load_corpus(path: Path) -> list[dict[str, Any]]:
    requests = json.loads(path.read_text())["requests"]
    names = [request["name"] for request in requests]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"{path.name}: duplicate request names {sorted(duplicates)}")
    return list(requests)


def corpus_literals(requests: list[dict[str, Any]]) -> set[str]:
    """Every string written in the corpus; the normaliser leaves these alone."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
            found.update(re.findall(r"[a-z0-9]{15}", value))
        elif isinstance(value, dict):
            for key, item in value.items():
                found.add(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(requests)
    return found


# ---------------------------------------------------------------------------------------------
# normalisation


@dataclass
class Normaliser:
    literals: set[str]
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    _ids: dict[str, str] = field(default_factory=dict)

    def normalise(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self._string(key): self.normalise(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.normalise(item) for item in value]
        if isinstance(value, str):
            return self._string(value)
        return value

    def _string(self, text: str) -> str:
        if text in self.literals or not text:
            return text
        if _RECORD_ID.match(text):
            return self._id(text)
        if _TIMESTAMP.match(text):
            return "<now>" if self._near_now(text) else text
        if _JWT.match(text):
            return _describe_jwt(text)
        file_name = _FILE_NAME.match(text)
        if file_name and "/" not in text and " " not in text:
            return f"{file_name.group(1)}_<rand>{file_name.group(2)}"
        for known, placeholder in self._ids.items():
            if known in text:
                text = text.replace(known, placeholder)
        return text

    def _id(self, text: str) -> str:
        if text not in self._ids:
            self._ids[text] = f"<id:{len(self._ids) + 1}>"
        return self._ids[text]

    def _near_now(self, text: str) -> bool:
        moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        return abs(moment - self.started) < _NOW_WINDOW


def _describe_jwt(token: str) -> str:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError):
        return "<jwt:?>"
    parts = [str(claims.get("type", "?")), str(claims.get("collectionId", "?"))]
    if "refreshable" in claims:
        parts.append("refreshable" if claims["refreshable"] else "non-refreshable")
    return "<jwt:" + ":".join(parts) + ">"


# ---------------------------------------------------------------------------------------------
# running


@dataclass
class Outcome:
    name: str
    request: str
    status: int
    body: Any

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "request": self.request, "status": self.status, "body": self.body}


def _lookup(captures: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in captures:
        raise KeyError(f"template {{{{{dotted}}}}}: nothing captured as {head!r}")
    value = captures[head]
    for part in rest:
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(f"template {{{{{dotted}}}}}: cannot descend into {value!r}")
    return value


def render(value: Any, captures: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return copy.deepcopy(_lookup(captures, whole.group(1)))
        return _TEMPLATE.sub(lambda m: str(_lookup(captures, m.group(1))), value)
    if isinstance(value, dict):
        return {render(key, captures): render(item, captures) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, captures) for item in value]
    return value


def _build(request: dict[str, Any], captures: dict[str, Any], tokens: dict[str, str]) -> dict[str, Any]:
    path = render(request["path"], captures)
    if "query" in request:
        query = render(request["query"], captures)
        path += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
    headers = dict(render(request.get("headers", {}), captures))
    auth = request.get("auth", "guest")
    if auth != "guest":
        if auth not in tokens:
            raise KeyError(f"request {request['name']!r}: unknown auth {auth!r}")
        headers.setdefault("Authorization", tokens[auth])
    options: dict[str, Any] = {"headers": headers}
    if "json" in request:
        options["json"] = render(request["json"], captures)
    elif "form" in request:
        options["data"] = render(request["form"], captures)
    elif "multipart" in request:
        multipart = render(request["multipart"], captures)
        fields = {k: v if isinstance(v, list) else [v] for k, v in multipart.get("fields", {}).items()}
        data = {k: [_form_text(item) for item in v] for k, v in fields.items()}
        files = [
            (f["field"], (f["name"], f.get("content", "").encode(), f.get("type", "text/plain")))
            for f in multipart.get("files", [])
        ]
        if files:
            options["data"], options["files"] = data, files
        else:
            # httpx only encodes multipart when files are present, so field-only forms are built here.
            options["content"], headers["Content-Type"] = _multipart_without_files(data)
    elif "raw" in request:
        options["content"] = render(request["raw"], captures).encode()
        headers["Content-Type"] = request.get("content_type", "application/json")
    return {"method": request["method"], "url": path, **options}


def _form_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _multipart_without_files(data: dict[str, list[str]]) -> tuple[bytes, str]:
    boundary = "roostcorpusboundary7d1f"
    chunks = []
    for key, values in data.items():
        for value in values:
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            )
    chunks.append(f"--{boundary}--\r\n")
    return "".join(chunks).encode(), f"multipart/form-data; boundary={boundary}"


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"<non-json>": response.text[:500]}


def run_corpus(base_url: str, path: Path, superuser: tuple[str, str]) -> list[Outcome]:
    """Play one corpus file in order against the server at ``base_url``; return normalised outcomes."""
    requests = load_corpus(path)
    normaliser = Normaliser(corpus_literals(requests))
    captures: dict[str, Any] = {}
    outcomes: list[Outcome] = []
    with httpx.Client(base_url=base_url, timeout=30.0, follow_redirects=False) as http:
        login = http.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": superuser[0], "password": superuser[1]},
        )
        login.raise_for_status()
        tokens = {"superuser": login.json()["token"]}
        for request in requests:
            built = _build(request, captures, tokens)
            response = http.request(**built)
            body = _decode(response)
            if request.get("capture"):
                captures[request["capture"]] = body
            if request.get("save_auth") and isinstance(body, dict) and "token" in body:
                tokens[request["save_auth"]] = body["token"]
            label = f"{request['method']} {request['path']}"
            outcomes.append(
                Outcome(request["name"], label, response.status_code, normaliser.normalise(body))
            )
    return outcomes


def run_all(base_url_factory: Any, superuser: tuple[str, str]) -> dict[str, list[Outcome]]:
    """Run every corpus file on its own fresh server; ``base_url_factory()`` yields a context
    manager giving a base URL."""
    results = {}
    for path in corpus_files():
        with base_url_factory() as base_url:
            results[path.stem] = run_corpus(base_url, path, superuser)
    return results


# ---------------------------------------------------------------------------------------------
# comparing and snapshots


def comparable(outcome: Outcome | dict[str, Any]) -> dict[str, Any]:
    data = outcome.as_json() if isinstance(outcome, Outcome) else outcome
    return {"status": data["status"], "body": data["body"]}


def describe_difference(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    left = json.dumps(comparable(expected), indent=1, sort_keys=True).splitlines()
    right = json.dumps(comparable(actual), indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=2))


def iter_differences(
    expected: dict[str, list[dict[str, Any]]], actual: dict[str, list[dict[str, Any]]]
) -> Iterator[tuple[str, str, str]]:
    """Yield ``(corpus, request name, diff)`` for each request whose answer differs."""
    for corpus, expected_list in expected.items():
        actual_by_name = {item["name"]: item for item in actual.get(corpus, [])}
        for item in expected_list:
            other = actual_by_name.get(item["name"])
            if other is None:
                yield corpus, item["name"], "missing from actual run"
            elif comparable(item) != comparable(other):
                yield corpus, item["name"], describe_difference(item, other)


def to_snapshot(results: dict[str, list[Outcome]]) -> dict[str, list[dict[str, Any]]]:
    return {corpus: [o.as_json() for o in outcomes] for corpus, outcomes in results.items()}


def load_snapshot() -> dict[str, list[dict[str, Any]]]:
    return dict(json.loads(SNAPSHOT_PATH.read_text()))


def write_snapshot(snapshot: dict[str, list[dict[str, Any]]]) -> None:
    SNAPSHOT_PATH.write_text(json.dumps(snapshot, indent=1, sort_keys=False, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    from contextlib import contextmanager

    from .servers import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, start_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", default="pocketbase", choices=["pocketbase", "roost"])
    parser.add_argument("--record", action="store_true", help="write the snapshot (pocketbase only)")
    parser.add_argument("--compare", action="store_true", help="print differences from the snapshot")
    parser.add_argument("--only", help="run only this corpus file stem")
    args = parser.parse_args(argv)

    @contextmanager
    def fresh() -> Iterator[str]:
        server = start_server(args.kind)
        try:
            yield server.base_url
        finally:
            server.stop()

    results: dict[str, list[Outcome]] = {}
    for path in corpus_files():
        if args.only and path.stem != args.only:
            continue
        with fresh() as base_url:
            results[path.stem] = run_corpus(base_url, path, (SUPERUSER_EMAIL, SUPERUSER_PASSWORD))
    snapshot = to_snapshot(results)
    total = sum(len(v) for v in snapshot.values())
    if args.record:
        if args.kind != "pocketbase" or args.only:
            parser.error("--record needs the reference server and the whole corpus")
        write_snapshot(snapshot)
        print(f"recorded {total} requests from {len(snapshot)} corpus files to {SNAPSHOT_PATH}")
        return 0
    if args.compare:
        expected = {k: v for k, v in load_snapshot().items() if k in snapshot}
        differences = list(iter_differences(expected, snapshot))
        for corpus, name, diff in differences:
            print(f"=== {corpus} :: {name}\n{diff}\n")
        print(f"{total - len(differences)} of {total} requests match the snapshot")
        return 1 if differences else 0
    json.dump(snapshot, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
