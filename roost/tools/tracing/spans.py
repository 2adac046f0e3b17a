"""The spans Roost starts (imported only while tracing is on; see :mod:`roost.tools.tracing`).

Attribute names follow OpenTelemetry's semantic conventions for HTTP and databases. Nothing that
can carry a secret is recorded: no header value but the user agent, no query string, no request
or response body, no exception message, and database statements keep their placeholders, never
the parameter values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from roost.version import __version__

__all__ = [
    "client_span",
    "db_attributes",
    "db_span",
    "detach",
    "end_server_span",
    "set_response_status",
    "start_server_span",
    "traced_handlers",
]

tracer = trace.get_tracer("roost", __version__)
#: the longest statement text recorded on a database span
MAX_STATEMENT = 2048


class _ASGIHeaders(Getter[list[tuple[bytes, bytes]]]):
    """Reads propagation headers (``traceparent``, ``tracestate``, ``baggage``) from ASGI's list."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        found = [v.decode("latin-1") for k, v in carrier if k.lower() == wanted]
        return found or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier]


_getter = _ASGIHeaders()


def start_server_span(scope: Mapping[str, Any]) -> tuple[Span, object]:
    """Start the span of one HTTP request (a child of the caller's ``traceparent``, if any) and
    make it current; returns the span and the token :func:`end_server_span` restores."""
    parent = propagate.extract(scope.get("headers") or [], getter=_getter)
    method = scope.get("method", "")
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope.get("path", ""),
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", ""),
    }
    client, server = scope.get("client"), scope.get("server")
    if client:
        attributes["client.address"] = client[0]
    if server:
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    for key, value in scope.get("headers") or ():
        if key == b"user-agent":
            attributes["user_agent.original"] = value.decode("latin-1")[:512]
    span = tracer.start_span(method, context=parent, kind=SpanKind.SERVER, attributes=attributes)
    return span, context.attach(trace.set_span_in_context(span, parent))


def detach(token: object) -> None:
    """Restore the context :func:`start_server_span` replaced."""
    context.detach(token)  # type: ignore[arg-type]


def end_server_span(
    span: Span, token: object, method: str, route: str, status: int, error: BaseException | None
) -> None:
    """Name the span ``METHOD /route/{template}``, record the answer's status and end it."""
    try:
        if route:
            span.set_attribute("http.route", route)
            span.update_name(f"{method} {route}".strip())
        if status:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            failed(span, type(error).__qualname__)
        elif status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
    finally:
        detach(token)


def traced_handlers(
    hook: str, funcs: Iterable[Callable[[Any], Awaitable[None] | None]]
) -> list[Callable[[Any], Awaitable[None] | None]]:
    """Each hook handler wrapped in a span ``hook <name>`` (it includes what runs in its ``next()``)."""
    return [_traced_handler(hook, func) for func in funcs]


def _traced_handler(
    hook: str, func: Callable[[Any], Awaitable[None] | None]
) -> Callable[[Any], Awaitable[None]]:
    attributes = {
        "roost.hook.name": hook,
        "code.function.name": getattr(func, "__qualname__", repr(func)),
    }

    async def run(event: Any) -> None:
        with _span(f"hook {hook}", SpanKind.INTERNAL, attributes):
            result = func(event)
            if result is not None and hasattr(result, "__await__"):
                await result

    return run


@contextmanager
def db_span(system: str, statement: str) -> Iterator[None]:
    """A client span for one database statement (its text, never its parameter values).

    Only inside a recording span (a request, a hook handler): the background jobs' polling
    would otherwise start a trace of its own every few seconds.
    """
    if not trace.get_current_span().is_recording():
        yield
        return
    with _span(statement_name(statement), SpanKind.CLIENT, db_attributes(system, statement)):
        yield


def statement_name(statement: str) -> str:
    """The span name of a statement: its first keyword (``SELECT``, ``INSERT`` ...)."""
    words = statement.lstrip().split(None, 1)
    return words[0].upper() if words else "QUERY"


def db_attributes(system: str, statement: str) -> dict[str, Any]:
    return {
        "db.system.name": system,
        "db.operation.name": statement_name(statement),
        "db.query.text": statement[:MAX_STATEMENT],
    }


@contextmanager
def client_span(
    method: str, scheme: str, host: str, port: int, path: str
) -> Iterator[tuple[Span, dict[str, str]]]:
    """A client span for one outbound HTTP request, and the ``traceparent`` headers to send with it.

    The URL is recorded without its query string and credentials (webhook URLs may carry tokens).
    A failure's stable ``reason`` code (``refused``, ``timeout`` ...) becomes ``error.type``.
    """
    shown = f"[{host}]" if ":" in host else host
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "server.address": host,
        "server.port": port,
        "url.full": f"{scheme}://{shown}:{port}{path}",
    }
    with _span(method, SpanKind.CLIENT, attributes, reason_codes=True) as span:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        yield span, headers


@contextmanager
def _span(
    name: str, kind: SpanKind, attributes: dict[str, Any], *, reason_codes: bool = False
) -> Iterator[Span]:
    """A current span that a failure marks with ``error.type`` only: an exception's message may
    quote user input, so it is not recorded. ``error.type`` is the exception's class, or with
    ``reason_codes`` its stable ``reason`` (the outbound client's ``refused``, ``timeout`` ...)."""
    with tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            reason = getattr(exc, "reason", "") if reason_codes else ""
            failed(span, reason if isinstance(reason, str) and reason else type(exc).__qualname__)
            raise


def failed(span: Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


def set_response_status(span: Span, status: int) -> None:
    """Record an outbound answer's status (a 4xx or 5xx answer marks the client span failed)."""
    span.set_attribute("http.response.status_code", status)
    if status >= 400:
        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))
