"""OpenTelemetry tracing of a real ``roost serve``, exported over OTLP (HTTP or gRPC) to a collector in the test."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roost.tools.tracing import requested
from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import PG_URL, LiveServer, ServiceUnavailable, _pg_schema
from tests.http_receiver import Receiver
from tests.otlp_collector import CLIENT, INTERNAL, SERVER, Collector, GrpcCollector, ReceivedSpan
from tests.roost_process import roost_process

REPO = Path(__file__).resolve().parent.parent
RECORDS = "/api/collections/{collection}/records"
HOOKS_FILE = '''
from roost.hooks import RecordEvent, app


@app.on_record_create("posts")
async def stamp(e: RecordEvent) -> None:
    e.record["title"] = e.record["title"] + " (stamped)"
    await e.next()
'''
#: a value that must never reach a span (statements keep their placeholders)
SECRET_TITLE = "title-canary-" + secrets.token_hex(4)


def traced_env(collector: Collector | GrpcCollector, **extra: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "roost-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50", **extra}  # fmt: skip


@dataclass
class Traced:
    server: LiveServer
    collector: Collector
    token: str

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": self.token, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        with self.server.client() as http:
            return http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def server_span(self, trace_id: str) -> ReceivedSpan:
        found = self.collector.wait_for(lambda s: s.trace_id == trace_id and s.kind == SERVER)
        assert len(found) == 1, found
        return found[0]


def create_posts(traced: Traced) -> None:
    res = traced.call("POST", "/api/collections", json={
        "name": "posts", "type": "base", "fields": [{"name": "title", "type": "text"}],
        "listRule": "", "viewRule": "", "createRule": "",
    })  # fmt: skip
    assert res.status_code == 200, res.text


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[Traced]:
    (tmp_path / "roost_hooks").mkdir()
    (tmp_path / "roost_hooks" / "stamp.py").write_text(HOOKS_FILE)
    with Collector() as collector, roost_process(tmp_path, env=traced_env(collector)) as server:
        yield Traced(server, collector, server.superuser_token())


def parent(trace_id: str, span_id: str = "") -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{span_id or secrets.token_hex(8)}-01"}


def descendants(spans: list[ReceivedSpan], root: ReceivedSpan) -> list[ReceivedSpan]:
    by_parent: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        by_parent.setdefault(span.parent_id, []).append(span)
    out, todo = [], [root.span_id]
    while todo:
        children = by_parent.get(todo.pop(), [])
        out += children
        todo += [c.span_id for c in children]
    return out


def test_a_request_is_one_server_span_named_by_its_route_with_database_and_hook_spans_under_it(
    traced: Traced,
) -> None:
    create_posts(traced)
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    res = traced.call("POST", "/api/collections/posts/records", json={"title": SECRET_TITLE},
                      headers=parent(trace_id, caller_span))  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["title"] == SECRET_TITLE + " (stamped)"

    server = traced.server_span(trace_id)
    assert server.name == f"POST {RECORDS}"
    assert server.parent_id == caller_span  # a child of the caller's traceparent
    assert server.service == "roost-test"
    assert server.attributes["http.route"] == RECORDS
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["url.path"] == "/api/collections/posts/records"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status != 2

    traced.collector.wait_for(lambda s: s.trace_id == trace_id and s.name == "INSERT")
    under = descendants(traced.collector.trace(trace_id), server)
    hooks = [s for s in under if s.name == "hook on_record_create"]
    assert len(hooks) == 1 and hooks[0].kind == INTERNAL and hooks[0].parent_id == server.span_id
    assert hooks[0].attributes["code.function.name"] == "stamp"
    statements = [s for s in under if s.attributes.get("db.system.name") == "sqlite"]
    assert {s.name for s in statements} >= {"SELECT", "INSERT"}
    assert all(s.kind == CLIENT for s in statements)
    insert = next(s for s in statements if s.name == "INSERT")
    assert '"posts"' in insert.attributes["db.query.text"]
    # the INSERT runs in the hook's next(), so it is the hook span's descendant
    assert insert in descendants(under, hooks[0])
    assert not any(SECRET_TITLE in repr(s.attributes) for s in traced.collector.spans)


def test_view_and_error_answers_are_named_by_their_route_and_carry_the_status(traced: Traced) -> None:
    create_posts(traced)
    post = traced.call("POST", "/api/collections/posts/records", json={"title": "x"}).json()
    view_trace, missing_trace, unknown_trace = (secrets.token_hex(16) for _ in range(3))
    assert traced.call("GET", f"/api/collections/posts/records/{post['id']}", headers=parent(view_trace)).status_code == 200
    assert traced.call("GET", "/api/collections/posts/records/nopenopenopenop", headers=parent(missing_trace)).status_code == 404
    assert traced.call("GET", "/api/no/such/route", headers=parent(unknown_trace)).status_code == 404

    # a caller that did not sample its trace: Roost records nothing of it either
    unsampled = secrets.token_hex(16)
    unsampled_parent = {"traceparent": f"00-{unsampled}-{secrets.token_hex(8)}-00"}
    assert traced.call("GET", f"/api/collections/posts/records/{post['id']}", headers=unsampled_parent).status_code == 200
    sampled_after = secrets.token_hex(16)
    assert traced.call("GET", "/api/health", headers=parent(sampled_after)).status_code == 200

    view = traced.server_span(view_trace)
    assert view.name == f"GET {RECORDS}/{{id}}"
    assert view.attributes["url.path"] == f"/api/collections/posts/records/{post['id']}"
    missing = traced.server_span(missing_trace)
    assert missing.name == view.name and missing.attributes["http.response.status_code"] == 404
    assert missing.status != 2  # a 4xx is the client's error, not the server span's
    unknown = traced.server_span(unknown_trace)
    assert unknown.name == "GET" and "http.route" not in unknown.attributes
    traced.server_span(sampled_after)  # exported after the unsampled request's spans would have been
    assert traced.collector.trace(unsampled) == []


def test_a_webhook_delivery_is_a_client_span_and_sends_its_traceparent(traced: Traced) -> None:
    create_posts(traced)
    with Receiver() as receiver:
        for path, allow_private in (("/hook", True), ("/refused", False)):
            res = traced.call("POST", "/api/collections/_webhooks/records", json={
                "collection": "posts", "events": ["create"], "url": receiver.url + path, "allowPrivate": allow_private,
            })  # fmt: skip
            assert res.status_code == 200, res.text
        assert traced.call("POST", "/api/collections/posts/records", json={"title": "y"}).status_code == 200
        traced.collector.wait_for(lambda s: s.kind == CLIENT and s.attributes.get("url.full", "").endswith("/hook"))
        calls = traced.collector.wait_for(lambda s: s.kind == CLIENT and s.name == "POST" and s.status == 2)

    delivered = next(s for s in traced.collector.spans if s.attributes.get("url.full") == f"{receiver.url}/hook")
    assert delivered.kind == CLIENT and delivered.name == "POST"
    assert delivered.attributes["server.address"] == "127.0.0.1"
    assert delivered.attributes["http.response.status_code"] == 200
    assert len(receiver.received) == 1
    version, trace_id, span_id, _flags = receiver.received[0].headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", delivered.trace_id, delivered.span_id)
    # the refused address never got a request; its span says why
    assert [(s.attributes["url.full"], s.attributes["error.type"]) for s in calls] == [(f"{receiver.url}/refused", "refused")]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_spans_are_exported_over_either_otlp_protocol(tmp_path: Path, protocol: str) -> None:
    receiver: Collector | GrpcCollector = GrpcCollector() if protocol == "grpc" else Collector()
    env = traced_env(receiver, OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
    with receiver as collector, roost_process(tmp_path, env=env) as server, server.client() as http:
        trace_id = secrets.token_hex(16)
        assert http.get("/api/health", headers=parent(trace_id)).status_code == 200
        spans = collector.wait_for(lambda s: s.kind == SERVER and s.trace_id == trace_id)
    assert [s.name for s in spans] == ["GET /api/health"]
    assert spans[0].service == "roost-test"


def test_two_workers_each_export_their_spans(tmp_path: Path) -> None:
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    with (
        Collector() as collector,
        roost_process(tmp_path, "--workers", "2", "--redis-url", REDIS_URL, env=traced_env(collector)) as server,
        server.client() as http,
    ):
        traces = [secrets.token_hex(16) for _ in range(20)]
        for trace_id in traces:
            assert http.get("/api/health", headers=parent(trace_id)).status_code == 200
        spans = collector.wait_for(lambda s: s.kind == SERVER and s.trace_id == traces[-1])
    assert spans and spans[0].name == "GET /api/health"


def test_postgres_statements_are_spans_under_the_request(tmp_path: Path) -> None:
    try:
        schema, drop = _pg_schema()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        with Collector() as collector:
            env = traced_env(collector, ROOST_DB_URL=PG_URL, ROOST_DB_SCHEMA=schema)
            with roost_process(tmp_path, env=env) as server:
                traced = Traced(server, collector, server.superuser_token())
                create_posts(traced)
                read_trace, write_trace = secrets.token_hex(16), secrets.token_hex(16)
                res = traced.call("GET", "/api/collections/_superusers/records", headers=parent(read_trace))
                assert res.status_code == 200, res.text
                res = traced.call("POST", "/api/collections/posts/records", json={"title": SECRET_TITLE},
                                  headers=parent(write_trace))  # fmt: skip
                assert res.status_code == 200, res.text
                read, write = traced.server_span(read_trace), traced.server_span(write_trace)
                collector.wait_for(lambda s: s.trace_id == write_trace and s.name == "INSERT")
                reads = collector.trace(read_trace)
                writes = collector.trace(write_trace)
    finally:
        drop()
    # reads go straight to asyncpg, writes through SQLAlchemy (its cursor events): both are spans
    assert read.name == f"GET {RECORDS}"
    statements = [s for s in reads if s.kind == CLIENT]
    assert statements and all(s.attributes["db.system.name"] == "postgresql" for s in statements)
    assert any(s.name == "SELECT" and '"_superusers"' in s.attributes["db.query.text"] for s in statements)
    assert all(s in descendants(reads, read) for s in statements)
    insert = next(s for s in writes if s.name == "INSERT")
    assert insert.attributes["db.system.name"] == "postgresql" and '"posts"' in insert.attributes["db.query.text"]
    assert insert in descendants(writes, write)
    assert not any(SECRET_TITLE in repr(s.attributes) for s in collector.spans)


@pytest.mark.parametrize("otel", [{}, {"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}],
                         ids=["unset", "sdk-disabled", "exporter-none"])  # fmt: skip
def test_without_otel_variables_nothing_is_exported(tmp_path: Path, otel: dict[str, str]) -> None:
    with Collector() as collector:
        # an endpoint alone would turn tracing on; here only the switch-offs are given with it
        env = {"OTEL_SERVICE_NAME": "roost-test", **otel}
        if otel:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        with roost_process(tmp_path, env=env) as server, server.client() as http:
            for _ in range(5):
                assert http.get("/api/health", headers=parent(secrets.token_hex(16))).status_code == 200
                assert http.get("/api/collections/users/records").status_code == 200
        log = server.log_path.read_text(errors="replace")
    assert collector.requests == 0
    assert "Traceback" not in log and "opentelemetry" not in log.lower()


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
    ],
)
def test_which_variables_turn_tracing_on(env: dict[str, str], on: bool) -> None:
    assert requested(env) is on


#: run in a fresh interpreter where the OpenTelemetry packages cannot be imported: the app serves,
#: then ``roost serve`` starts (with the OTEL_* variables the test gives)
WITHOUT_EXTRA = """
import asyncio
import sys
from pathlib import Path


class NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, NoOpenTelemetry())
from roost.cli import main
from roost.testing import make_test_app


async def serve_one_request():
    async with make_test_app(Path(sys.argv[1]) / "app") as api:
        assert (await api.call("GET", "/api/health")).status_code == 200


asyncio.run(serve_one_request())
assert not [m for m in sys.modules if m.startswith("opentelemetry")]
main(["serve", "--dir", sys.argv[1] + "/data", "--http", sys.argv[2]])
"""


def test_roost_runs_without_the_extra_and_asking_for_tracing_then_is_one_line(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, "PYTHONPATH": str(REPO),
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}  # fmt: skip
    # the address is never bound: the tracing check comes first
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, str(tmp_path), "127.0.0.1:1"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "Error: OTEL_* variables ask for tracing but OpenTelemetry is not installed: "
        "pip install 'roost[otel]' (or unset them, or set OTEL_SDK_DISABLED=true)"
    )


def test_an_unknown_exporter_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "zipkin", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "roost", "serve", "--dir", str(tmp_path / "data"), "--http", "127.0.0.1:1"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: OTEL_TRACES_EXPORTER: unknown exporter 'zipkin' (use otlp, console, none)"
