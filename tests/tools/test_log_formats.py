"""The stdout log formats: one line per record whatever the record carries, and safe request ids."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from roost.config import Config
from roost.tools.structured_logs import (
    LINE_DELAY,
    MAX_HELD,
    REQUEST_ID,
    WRITE_CHUNK,
    configure,
    escape_controls,
    formatter,
    log_fields,
    log_line,
    request_id,
    unconfigure,
)

HOSTILE = 'a\r\n{"level":"error","message":"forged"}\u2028b\x85c\x1b[31md\x00'


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("roost.test", logging.WARNING, __file__, 1, "%s", (message,), None)
    record.__dict__.update(extra)
    return record


def test_json_line_keeps_values_and_cannot_be_split() -> None:
    token = REQUEST_ID.set("rid-1")
    try:
        line = formatter("json").format(_record(HOSTILE, user_agent=HOSTILE, nested={"k": HOSTILE}))
    finally:
        REQUEST_ID.reset(token)
    assert len(line.splitlines()) == 1
    parsed = json.loads(line)
    assert list(parsed)[:4] == ["timestamp", "level", "logger", "message"]
    assert parsed["message"] == HOSTILE and parsed["user_agent"] == HOSTILE and parsed["nested"] == {"k": HOSTILE}
    assert parsed["level"] == "warning" and parsed["logger"] == "roost.test" and parsed["request_id"] == "rid-1"


def test_text_line_escapes_control_characters() -> None:
    bare = "ua\u2028b\x85c\x1b[31md\x00"  # nothing the renderer would quote
    line = formatter("text").format(_record(HOSTILE, user_agent=HOSTILE, bare=bare))
    assert len(line.splitlines()) == 1
    assert "\x1b" not in line and "\x00" not in line and "\x85" not in line
    assert '] a\\r\\n{"level":"error","message":"forged"}\\u2028b\\x85c\\x1b[31md\\x00 [roost.test]' in line
    assert "user_agent='a\\r\\n{" in line  # quoted and escaped once
    assert "bare=ua\\u2028b\\x85c\\x1b[31md\\x00" in line


def test_exceptions_are_one_json_line() -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        record = logging.LogRecord("roost.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    line = formatter("json").format(record)
    assert len(line.splitlines()) == 1
    assert "ValueError" in json.loads(line)["exception"]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [(b"abc-123_X.y:z", True), (b"a" * 64, True), (b"a" * 65, False), (b"two words", False),
     (b"x\r\nSet-Cookie: a=b", False), (b"", False), (None, False)],
)  # fmt: skip
def test_incoming_request_id_kept_only_when_safe(incoming: bytes | None, kept: bool) -> None:
    rid = request_id(incoming)
    assert (rid == incoming) is kept
    assert 1 <= len(rid) <= 64


def test_configure_replaces_its_own_handler_and_keeps_others() -> None:
    root = logging.getLogger()
    unconfigure()  # an in-process CLI run of an earlier test in this worker may have configured it
    before, level = list(root.handlers), root.level
    out = io.StringIO()
    try:
        configure("text", "warning", stream=io.StringIO())
        configure("json", "info", stream=out)
        assert len(root.handlers) == len(before) + 1
        logging.getLogger("roost.test").info("hello %s", "there")
        logging.getLogger("roost.test").debug("hidden")
        lines = out.getvalue().splitlines()
        assert [json.loads(line)["message"] for line in lines] == ["hello there"]
    finally:
        unconfigure()
        root.setLevel(level)
        logging.captureWarnings(False)
    assert root.handlers == before


def test_bad_choices_are_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        formatter("xml")
    with pytest.raises(ValueError, match="log level"):
        configure("json", "loud")


def test_escape_controls_leaves_plain_text_alone() -> None:
    assert escape_controls("plain text é ✓") == "plain text é ✓"
    assert escape_controls("a\tb") == "a\\tb"


def test_request_lines_skip_the_logging_machinery_only_under_the_cli(caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("roost.test.access")
    fields = {"request_id": "r-1", "status": 200, "url": "/x\r\ny"}
    with caplog.at_level(logging.INFO):
        log_fields(access, logging.INFO, "GET /x 200", fields)  # a library: a plain record
    assert [(r.getMessage(), r.request_id) for r in caplog.records] == [("GET /x 200", "r-1")]  # type: ignore[attr-defined]
    out, level = io.StringIO(), logging.getLogger().level
    try:
        configure("json", "info", stream=out)
        log_fields(access, logging.INFO, "GET /x 200", fields)
        log_fields(access, logging.ERROR, "GET /y 500", {**fields, "status": 500})
    finally:
        unconfigure()
        logging.getLogger().setLevel(level)
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["level"], line["logger"], line["message"], line["url"]) for line in lines] == [
        ("info", "roost.test.access", "GET /x 200", "/x\r\ny"), ("error", "roost.test.access", "GET /y 500", "/x\r\ny")]
    assert list(lines[0])[:4] == ["timestamp", "level", "logger", "message"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("terminal", "dev", "chosen", "expected"),
    [(False, False, "", "json"), (True, False, "", "text"), (False, True, "", "text"), (True, False, "json", "json")],
)
def test_the_default_format_is_text_for_a_reader_and_json_for_a_collector(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, dev: bool, chosen: str, expected: str
) -> None:
    monkeypatch.setattr("sys.stdout", _Terminal() if terminal else io.StringIO())
    assert Config(dev=dev, log_format=chosen).logs_format == expected


def test_new_request_ids_are_distinct_hex_across_pool_refills() -> None:
    ids = [request_id(None) for _ in range(1500)]  # about three refills of the random pool
    assert len(set(ids)) == len(ids)
    assert all(len(rid) == 16 and int(rid, 16) >= 0 for rid in ids)


class _CountedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@contextlib.contextmanager
def _configured(out: io.StringIO) -> Iterator[None]:
    level = logging.getLogger().level
    try:
        configure("json", "info", stream=out)
        yield
    finally:
        unconfigure()
        logging.getLogger().setLevel(level)
        logging.captureWarnings(False)


async def test_request_lines_are_held_then_leave_in_one_write_and_in_order() -> None:
    access = logging.getLogger("roost.test.access")
    out = _CountedWrites()
    with _configured(out):
        logged_at = time.time()
        for n in range(5):
            log_fields(access, logging.INFO, f"GET /{n} 200", {"status": 200})
        await asyncio.sleep(0)
        assert out.getvalue() == ""  # held for up to LINE_DELAY, not rendered yet
        await asyncio.sleep(LINE_DELAY * 3)
        assert out.writes == 1 and len(out.getvalue().splitlines()) == 5
        stamp = json.loads(out.getvalue().splitlines()[0])["timestamp"]
        # stamped when logged, not when written
        assert abs(datetime.fromisoformat(stamp).timestamp() - logged_at) < LINE_DELAY
        log_fields(access, logging.INFO, "GET /held 200", {"status": 200})
        logging.getLogger("roost.test").warning("a warning")  # writes what is held first
        log_fields(access, logging.INFO, "GET /last 200", {"status": 200})
        for handler in logging.getLogger().handlers:  # as logging.shutdown does at exit
            handler.flush()
    messages = [json.loads(line)["message"] for line in out.getvalue().splitlines()]
    assert messages == [*(f"GET /{n} 200" for n in range(5)), "GET /held 200", "a warning", "GET /last 200"]


async def test_held_lines_leave_in_writes_of_whole_lines_that_a_pipe_keeps_whole() -> None:
    access = logging.getLogger("roost.test.access")
    out = _Writes()
    with _configured(out):
        for n in range(300):
            log_fields(access, logging.INFO, f"GET /{n} 200", {"status": 200, "user_agent": "x" * (n % 90)})
        await asyncio.sleep(LINE_DELAY * 3)
    assert len(out.chunks) > 1
    assert all(len(chunk.encode()) <= WRITE_CHUNK and chunk.endswith("\n") for chunk in out.chunks)
    assert [json.loads(line)["message"] for line in "".join(out.chunks).splitlines()] == [f"GET /{n} 200" for n in range(300)]


async def test_the_write_limit_counts_bytes_not_characters() -> None:
    access = logging.getLogger("roost.test.access")
    out = _Writes()
    with _configured(out):
        for n in range(100):
            log_fields(access, logging.INFO, f"GET /{n} 200", {"status": 200, "user_agent": "é" * 90})
        await asyncio.sleep(LINE_DELAY * 3)
    assert len(out.chunks) > 1
    assert all(len(chunk.encode()) <= WRITE_CHUNK and chunk.endswith("\n") for chunk in out.chunks)
    assert len("".join(out.chunks).splitlines()) == 100


async def test_a_full_hold_is_written_at_once() -> None:
    access = logging.getLogger("roost.test.access")
    out = _CountedWrites()
    with _configured(out):
        for n in range(MAX_HELD):
            log_fields(access, logging.INFO, f"GET /{n} 200", {"status": 200})
        assert len(out.getvalue().splitlines()) == MAX_HELD  # no wait for the timer
        log_fields(access, logging.INFO, "GET /next 200", {"status": 200})
        assert len(out.getvalue().splitlines()) == MAX_HELD
        await asyncio.sleep(LINE_DELAY * 3)
        assert out.getvalue().splitlines()[-1].count("GET /next 200") == 1


async def test_a_line_that_cannot_be_rendered_costs_only_itself() -> None:
    access = logging.getLogger("roost.test.access")

    def broken(source: str) -> tuple[str, dict[str, Any]]:
        raise ValueError(source)

    out = io.StringIO()
    with _configured(out):
        log_fields(access, logging.INFO, "GET /a 200", {"status": 200})
        log_line(access, logging.INFO, broken, "no fields here")
        log_fields(access, logging.INFO, "GET /b 200", {"status": 200})
        await asyncio.sleep(LINE_DELAY * 3)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", "GET /a 200"),
        ("error", "could not render a roost.test.access line: ValueError('no fields here')"),
        ("info", "GET /b 200"),
    ]


def test_lines_held_by_a_loop_that_ended_leave_with_the_next_loops_lines() -> None:
    access = logging.getLogger("roost.test.access")

    async def log_and_leave(message: str, wait: float) -> None:
        log_fields(access, logging.INFO, message, {"status": 200})
        await asyncio.sleep(wait)

    out = io.StringIO()
    with _configured(out):
        asyncio.run(log_and_leave("GET /first 200", 0))  # its timer never fires
        assert out.getvalue() == ""
        asyncio.run(log_and_leave("GET /second 200", LINE_DELAY * 3))
        assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["GET /first 200", "GET /second 200"]


def test_without_a_loop_a_line_is_written_at_once() -> None:
    out = io.StringIO()
    with _configured(out):
        log_fields(logging.getLogger("roost.test.access"), logging.INFO, "GET /now 200", {"status": 200})
        assert json.loads(out.getvalue())["message"] == "GET /now 200"


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def write(self, text: str) -> int:
        self.chunks.append(text)
        return super().write(text)
