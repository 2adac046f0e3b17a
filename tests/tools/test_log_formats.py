"""The stdout log formats: one line per record whatever the record carries, and safe request ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from roost.config import Config
from roost.tools.structured_logs import (
    REQUEST_ID,
    configure,
    escape_controls,
    formatter,
    log_fields,
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


async def test_request_lines_of_one_loop_turn_leave_in_one_write_and_in_order() -> None:
    import asyncio

    access = logging.getLogger("roost.test.access")
    out, level = _CountedWrites(), logging.getLogger().level
    try:
        configure("json", "info", stream=out)
        for n in range(5):
            log_fields(access, logging.INFO, f"GET /{n} 200", {"status": 200})
        assert out.getvalue() == ""  # held until the end of this turn of the loop
        await asyncio.sleep(0)
        assert out.writes == 1 and len(out.getvalue().splitlines()) == 5
        log_fields(access, logging.INFO, "GET /held 200", {"status": 200})
        logging.getLogger("roost.test").warning("a warning")  # writes what is held first
        log_fields(access, logging.INFO, "GET /last 200", {"status": 200})
        for handler in logging.getLogger().handlers:  # as logging.shutdown does at exit
            handler.flush()
    finally:
        unconfigure()
        logging.getLogger().setLevel(level)
        logging.captureWarnings(False)
    messages = [json.loads(line)["message"] for line in out.getvalue().splitlines()]
    assert messages == [*(f"GET /{n} 200" for n in range(5)), "GET /held 200", "a warning", "GET /last 200"]
