"""Database spans for SQLAlchemy engines (PostgreSQL, MySQL), from its cursor events.

The listeners sit on the ``Engine`` class, so every engine gets them, and only while tracing is
on. They run inside SQLAlchemy's greenlet, which carries the calling task's context, so each
statement's span is a child of the request (or hook) span that awaited it. The SQLite driver
does not use SQLAlchemy, nor do PostgreSQL's direct reads: ``roost.core.db.traced_sqlite`` and
``roost.core.db.traced_alchemy`` cover them.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Engine

from roost.tools.tracing.spans import db_attributes, statement_name, tracer

_ATTR = "_roost_span"


def _before(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    # only inside a recording span (a request, a hook handler), as for SQLite
    if context is None or not trace.get_current_span().is_recording():
        return
    name, attributes = statement_name(statement), db_attributes(conn.dialect.name, statement)
    setattr(context, _ATTR, tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes))


def _after(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    span = getattr(context, _ATTR, None)
    if span is not None:
        setattr(context, _ATTR, None)
        span.end()


def _failed(exception_context: Any) -> None:
    span = getattr(exception_context.execution_context, _ATTR, None)
    if span is not None:
        setattr(exception_context.execution_context, _ATTR, None)
        error = type(exception_context.original_exception).__qualname__
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, error))
        span.end()


_LISTENERS = (
    ("before_cursor_execute", _before),
    ("after_cursor_execute", _after),
    ("handle_error", _failed),
)


def instrument_sqlalchemy() -> None:
    for name, listener in _LISTENERS:
        if not event.contains(Engine, name, listener):
            event.listen(Engine, name, listener)


def uninstrument_sqlalchemy() -> None:
    for name, listener in _LISTENERS:
        if event.contains(Engine, name, listener):
            event.remove(Engine, name, listener)
