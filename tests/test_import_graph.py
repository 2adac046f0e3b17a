"""The module graph of ``roost`` has no cycle, counting type-only imports, and modules import at
the top: the only imports inside functions are the factories that pick a backend or driver by
URL, so a SQLite deployment never loads the PostgreSQL, MySQL, Redis or memcached stacks, the
places that load the optional tracing extra only once tracing is on, and the features whose
libraries load on first use (GraphQL, passkeys, OAuth2, webhooks, SMTP, thumbnails)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import roost

ROOT = Path(roost.__file__).parent

#: (module, imported module) pairs allowed inside a function: backend factories and the
#: optional drivers those backends guard
DEFERRED = {
    ("roost.core.db.facade", "roost.core.db.sqlite"),
    ("roost.core.db.facade", "roost.core.db.alchemy"),
    ("roost.core.db.facade", "roost.core.db.postgres"),
    ("roost.tools.broker", "roost.tools.broker.redis"),
    ("roost.tools.broker", "roost.tools.broker.postgres"),
    ("roost.tools.broker.postgres", "asyncpg"),
    ("roost.tools.broker.redis", "redis.asyncio"),
    ("roost.tools.broker.redis", "redis.asyncio.retry"),
    ("roost.tools.broker.redis", "redis.backoff"),
    ("roost.tools.broker.redis", "redis.exceptions"),
    ("roost.tools.cache", "roost.tools.cache.redis"),
    ("roost.tools.cache", "roost.tools.cache.memcached"),
    ("roost.tools.cache.memcached", "aiomcache"),
    ("roost.tools.cache.redis", "redis.asyncio"),
    ("roost.tools.store", "roost.tools.store.redis"),
    ("roost.tools.redis_pool", "redis.asyncio"),
    ("roost.tools.storage", "roost.tools.storage.s3"),
    # the embedded hub (workers on one machine without Redis): its clients load with their URL
    ("roost.tools.broker", "roost.tools.broker.hub"),
    ("roost.tools.cache", "roost.tools.cache.hub"),
    ("roost.tools.store", "roost.tools.store.hub"),
    ("roost.tools.ratelimit.store", "roost.tools.ratelimit.hub"),
    # tracing (roost[otel]): OpenTelemetry is imported only once the OTEL_* variables turn it on
    ("roost.tools.tracing", "opentelemetry.sdk.trace"),
    ("roost.tools.tracing", "roost.tools.tracing.provider"),
    ("roost.tools.tracing.provider", "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
    ("roost.tools.tracing.provider", "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"),
    ("roost.apis", "roost.apis.middleware.tracing"),
    ("roost.core.db.facade", "roost.core.db.traced_sqlite"),
    ("roost.core.db.facade", "roost.core.db.traced_postgres"),
    ("roost.core.db.facade", "roost.core.db.sql_log"),  # --dev only: the SQLite statement log
    ("roost.tools.hook", "roost.tools.tracing.spans"),
    ("roost.tools.security._outbound_http", "roost.tools.tracing.spans"),
    # libraries a server may never use load on first use, so a worker does not hold them
    # (about 25 MiB each process; tests/test_lazy_imports.py)
    ("roost", "importlib"),  # the package's public names (roost.Roost ...) load on first access
    ("roost.app", "roost.cli"),
    ("roost.cli", "roost.apis.graphql.schema"),
    ("roost.apis.graphql", "roost.apis.graphql.http"),
    ("roost.apis.graphql", "roost.apis.graphql.ws"),
    ("roost.apis.auth.passkeys", "roost.core.auth"),  # webauthn
    ("roost.core.auth.oauth2", "roost.tools.oauth2.client"),  # httpx, authlib, joserfc
    ("roost.core.auth.oauth2_linking", "roost.tools.oauth2.client"),
    ("roost.plugins.webhooks", "httpx"),
    ("roost.tools.security.outbound", "httpx"),
    ("roost.tools.security.outbound", "roost.tools.security"),
    ("roost.tools.mailer.smtp", "aiosmtplib"),
    ("roost.tools.image", "PIL"),
    ("roost.tools.structured_logs", "structlog.dev"),  # the text format only
    # the test-database factories of roost.testing: a SQLite test run never opens a server
    ("roost.testing.databases", "asyncpg"),
    ("roost.testing.databases", "roost.testing.mysql"),
    ("roost.testing.mysql", "asyncmy"),
    # the AWS Lambda adapter of the optional 'lambda' extra
    ("roost.lambda_handler", "mangum"),
}


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_even_counting_type_only_imports() -> None:
    graph = grimp.build_graph("roost", exclude_type_checking_imports=False)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _strongly_connected(edges) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse(path: Path) -> ast.Module:
    """``ast.parse``, tried again on CPython 3.11's "AST constructor recursion depth mismatch":
    the interpreter's AST conversion keeps its depth count per interpreter, not per thread, so a
    parse in a background thread of an earlier test (a server's hooks loader) can upset one
    here. The source is the same each time; only the interpreter's bookkeeping differs."""
    for _ in range(3):
        try:
            return ast.parse(path.read_text())
        except SystemError:
            continue
    return ast.parse(path.read_text())


def _deferred_imports(path: Path) -> set[tuple[str, str]]:
    tree = _parse(path)
    module = _module_name(path)
    out: set[tuple[str, str]] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add((module, node.module))
            elif isinstance(node, ast.Import):
                out.update((module, alias.name) for alias in node.names)
    return out


def test_imports_are_at_module_top_except_backend_factories() -> None:
    deferred: set[tuple[str, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        deferred |= _deferred_imports(path)
    assert deferred - DEFERRED == set()
    assert DEFERRED - deferred == set(), "an allowed deferred import no longer exists: drop it from DEFERRED"
