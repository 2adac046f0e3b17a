"""Structured process logs on stdout: JSON lines, or readable (coloured on a terminal) text.

Roost logs through the standard library (``logging.getLogger("roost.<area>")``). Used as a
library it installs no handler and leaves the root logger to the application. Under the CLI,
:func:`configure` puts one stdout handler on the root logger, rendering with orjson (JSON) or
structlog's console renderer (text): every record (Roost's, uvicorn's, a hooks file's) becomes
one line with ``timestamp``, ``level``, ``logger`` and ``message``, the fields passed as
``extra``, and, while a request is served, its ``request_id`` (:data:`REQUEST_ID`).

One record is one line: the JSON renderer escapes every control character (and the Unicode line
separators, which some readers split on), and the text renderer prints them as ``\\r`` or
``\\x1b`` escapes, so a CR/LF in a URL, a header or a logged value cannot forge a line. (In text,
a traceback is printed as Python prints it, over several lines.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import orjson

if TYPE_CHECKING:  # structlog is loaded for the text format only
    from structlog.typing import EventDict, Processor, WrappedLogger

FORMATS = ("json", "text")
LEVELS = ("debug", "info", "warning", "error")
#: the id of the request being served in this task, set by the HTTP layer
REQUEST_ID: ContextVar[str | None] = ContextVar("roost_request_id", default=None)
#: an incoming ``X-Request-Id`` is kept only when it is a short token of these characters
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: characters ``str.splitlines`` breaks on that JSON leaves unescaped
_JSON_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
#: str values the text renderer prints through ``repr`` (structlog's ConsoleRenderer)
_REPRS = frozenset(" \t=\r\n\"'")
#: the attributes every LogRecord has; any other one came in through ``extra``
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
#: the standard levels' names as the lines spell them
_LEVEL_NAMES = {level: logging.getLevelName(level).lower() for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)}
#: marks the handler :func:`configure` installed, so a second call replaces it
_OURS = "_roost_structured"
#: that handler, which :func:`log_fields` writes to directly (None: Roost is used as a library)
_direct: _StdoutHandler | None = None
#: seconds a line written from an event loop (a line per request) may wait to be rendered
LINE_DELAY = 0.05
#: lines held at most; one more renders and writes them all at once
MAX_HELD = 1024
#: bytes per write at most when several lines leave together: a write to a pipe up to this size
#: is atomic, so two workers sharing stdout never split each other's lines (POSIX PIPE_BUF)
WRITE_CHUNK = 4096
_S = TypeVar("_S")
#: what a held line is rendered from: ``render(source)`` gives its message and fields
Render = Callable[[_S], tuple[str, dict[str, Any]]]


def request_id(incoming: bytes | None) -> bytes:
    """The id of a new request: the client's ``X-Request-Id`` when it is a safe short token
    (a proxy's id then joins its log to ours), otherwise 16 random hex digits."""
    if incoming is not None and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return _random_hex()


class _RandomPool:
    """Random bytes from the OS, 4 KiB at a time: one syscall per 512 request ids instead of one
    each. Refilled in a forked child, so two processes never hand out the same ids."""

    size = 4096

    def __init__(self) -> None:
        self.refill()
        os.register_at_fork(after_in_child=self.refill)

    def refill(self) -> None:
        self.data, self.offset = secrets.token_bytes(self.size), 0

    def hex8(self) -> bytes:
        offset = self.offset
        if offset + 8 > self.size:
            self.refill()
            offset = 0
        self.offset = offset + 8
        return self.data[offset : offset + 8].hex().encode()


_random_hex = _RandomPool().hex8


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\r``, ``\\x1b``, ``\\u2028``)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _escape_strings(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    # The text renderer prints the message as it is, a str value holding a space, quote, "=" or
    # CR/LF through repr (which escapes every control character), any other str value as it is:
    # escape what it would print raw.
    for key, value in event.items():
        if isinstance(value, str) and (key == "event" or not _REPRS.intersection(value)):
            event[key] = escape_controls(value)
    return event


class StructuredFormatter(logging.Formatter):
    """Turns a standard library record into an event dict and renders it with ``processors``.

    Built for the hot path (a line per request): structlog's ``ProcessorFormatter`` copies each
    record first, which cost more than the rest of the line; this reads the record as it is.
    """

    def __init__(self, processors: Sequence[Processor], *, message_key: str = "event") -> None:
        super().__init__()
        self.processors = list(processors)
        self.message_key = message_key

    def format(self, record: logging.LogRecord) -> str:
        event: EventDict = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            self.message_key: record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                event[key] = value
        if "request_id" not in event and (rid := REQUEST_ID.get()) is not None:
            event["request_id"] = rid
        if record.exc_info:
            event["exc_info"] = record.exc_info
        return self.render(event)

    def format_fields(self, logger: str, level: int, message: str, fields: dict[str, Any], created: float) -> str:
        """The line of a record that never was one (see :func:`log_line`), stamped ``created``
        (seconds since the epoch)."""
        event: EventDict = {
            "timestamp": datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z"),
            "level": logging.getLevelName(level).lower(),
            "logger": logger,
            self.message_key: message,
        }
        event.update(fields)
        return self.render(event)

    def render(self, event: EventDict) -> str:
        rendered: Any = event
        for processor in self.processors:
            rendered = processor(None, event["level"], rendered)
        return str(rendered)


class JsonFormatter(StructuredFormatter):
    """The ``json`` format: a record's line as :class:`StructuredFormatter` renders it, and a
    :func:`log_fields` line (a line per request) serialised in one ``orjson.dumps``."""

    def __init__(self) -> None:
        super().__init__([_json_line], message_key="message")

    def format_fields(self, logger: str, level: int, message: str, fields: dict[str, Any], created: float) -> str:
        event = {"timestamp": datetime.fromtimestamp(created, UTC), "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
                 "logger": logger, "message": message, **fields}  # fmt: skip
        line = orjson.dumps(event, default=repr, option=orjson.OPT_UTC_Z).decode()
        if "\x85" in line or "\u2028" in line or "\u2029" in line:
            line = line.translate(_JSON_LINE_BREAKS)
        return line


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """:func:`configure`'s handler, which also writes :func:`log_line` lines without a record.

    A line logged from an event loop (a line per request) is held, not rendered: what it is made
    from waits up to :data:`LINE_DELAY`, then every held line is rendered and written in one go.
    Rendering a few hundred lines in a row costs less CPU under load than one at the end of each
    request, when the rest of the request's work has just been through the processor's caches.
    Every other line, and :meth:`flush` (called at exit), writes what is held first, so lines
    keep their order. Lines leave in writes of whole lines of at most :data:`WRITE_CHUNK` bytes.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        #: (created, logger, level, render, source) of each line not written yet
        self._held: list[tuple[float, str, int, Render[Any], Any]] = []
        #: the loop whose timer will write what is held (None: no timer pending)
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def write_later(self, logger: str, level: int, render: Render[_S], source: _S) -> None:
        """Hold the line ``render(source)`` makes, stamped now; written at once without a loop."""
        with self.lock or contextlib.nullcontext():
            self._held.append((time.time(), logger, level, render, source))
            timer_loop = self._timer_loop
            if timer_loop is not None and timer_loop.is_running():  # its timer writes this line too
                if len(self._held) >= MAX_HELD:
                    self._write_held()
                return
            # asked only when no timer is pending: on Python 3.11 each call costs a getpid()
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None or len(self._held) >= MAX_HELD:
                self._write_held()
            elif self._timer_loop is not loop:  # none pending, or on a loop that has ended
                self._timer_loop = loop
                loop.call_later(LINE_DELAY, self.flush)

    def _write_held(self) -> None:
        held, self._held, self._timer_loop = self._held, [], None
        assert isinstance(self.formatter, StructuredFormatter)
        format_fields, lines = self.formatter.format_fields, []
        for created, logger, level, render, source in held:
            try:
                message, fields = render(source)
                lines.append(format_fields(logger, level, message, fields, created))
            except Exception as exc:  # one bad line must not cost the others
                lines.append(format_fields("roost.logs", logging.ERROR, f"could not render a {logger} line: {exc!r}", {}, created))
        chunk: list[str] = []
        size = 0
        for line in lines:
            line += self.terminator
            length = len(line) if line.isascii() else len(line.encode())  # bytes, as the pipe counts
            if chunk and size + length > WRITE_CHUNK:
                self.stream.write("".join(chunk))
                self.stream.flush()
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:
            self.stream.write("".join(chunk))
            self.stream.flush()

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            if self._held:
                self._write_held()
            else:
                super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        if self._held:
            self.flush()
        super().emit(record)


def _as_given(source: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return source


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """Log ``message`` with ``fields`` on ``logger`` (the caller checked that it is enabled); see
    :func:`log_line`."""
    log_line(logger, level, _as_given, (message, fields))


def log_line(logger: logging.Logger, level: int, render: Render[_S], source: _S) -> None:
    """Log the message and fields that ``render(source)`` gives, on ``logger`` (the caller checked
    that it is enabled).

    Under the CLI an info line goes straight to the stdout handler, which renders it later with
    the other lines of the moment: the logging machinery (a record, the caller's frame, the walk
    over the handlers) was most of the cost of the line written for each request. ``source``
    must not change once passed. Warnings and errors, and every line when Roost is used as a
    library, are rendered now and go through ``logger`` as usual.
    """
    direct = _direct
    if direct is not None and direct.level <= level < logging.WARNING:
        direct.write_later(logger.name, level, render, source)
    else:
        message, fields = render(source)
        logger.log(level, "%s", message, extra=fields)


def _json_line(_: WrappedLogger, __: str, event: EventDict) -> str:
    exc_info = event.pop("exc_info", None)
    if exc_info:
        event["exception"] = "".join(traceback.format_exception(*exc_info)).rstrip()
    line = orjson.dumps(event, default=repr).decode()
    if "\x85" in line or "\u2028" in line or "\u2029" in line:
        line = line.translate(_JSON_LINE_BREAKS)
    return line


def formatter(fmt: str = "json", *, colors: bool = False) -> logging.Formatter:
    """The formatter of one output format: ``json`` lines or ``text`` (``colors`` for a terminal)."""
    if fmt not in FORMATS:
        raise ValueError(f"the log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "json":
        return JsonFormatter()
    import structlog.dev

    exceptions = structlog.dev.default_exception_formatter if colors else structlog.dev.plain_traceback
    return StructuredFormatter([_escape_strings, structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=exceptions)])


def configure(fmt: str = "json", level: str = "info", *, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stdout) in ``fmt``, from ``level`` up.

    For the CLI only: it takes over the root logger. Calling it again (a worker process, a
    second ``serve`` in one interpreter) replaces the handler it installed before.
    """
    if level not in LEVELS:
        raise ValueError(f"the log level must be one of {', '.join(LEVELS)}, got {level!r}")
    out = stream or sys.stdout
    global _direct
    handler = _StdoutHandler(out)
    handler.setLevel(level.upper())
    handler.setFormatter(formatter(fmt, colors=fmt == "text" and _is_terminal(out)))
    setattr(handler, _OURS, True)
    unconfigure()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python warnings become log lines too, not raw stderr text
    # no line shows them, and each costs a lookup per record (a line per request)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    _direct = handler
    return handler


def unconfigure() -> None:
    """Remove the handler :func:`configure` installed (tests; a second ``configure``)."""
    global _direct
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(previous)
    _direct = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["FORMATS", "LEVELS", "REQUEST_ID", "configure", "escape_controls", "formatter", "log_fields", "log_line", "request_id", "unconfigure"]
