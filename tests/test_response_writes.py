"""Roost's response writer (``roost.server.protocol.ResponseCycle``): uvicorn writes a response's
head and body in two socket writes, Roost holds the head and writes both at once, and renders the
head with cheaper checks. A transport that records the calls it gets stands in for the socket,
and uvicorn's own writer, run on the same messages, is the reference for the bytes;
``tests/security/test_connection_limits.py`` and the SSE tests run the protocol against real
sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from roost.server.protocol import ResponseCycle
from tests.roost_process import roost_process

DEFAULTS = [(b"date", b"Sat, 05 Dec 2026 11:24:56 GMT"), (b"server", b"roost")]


class RecordingTransport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.calls.append(("writelines", b"".join(parts)))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def written(self) -> bytes:
        return b"".join(data for _, data in self.calls)


def _cycle(roost: bool, method: str = "GET", keep_alive: bool = True) -> tuple[RequestResponseCycle, RecordingTransport, list[str]]:
    transport, events = RecordingTransport(), []
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": method}, transport=transport, flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"), access_logger=logging.getLogger("test"), access_log=False,
        default_headers=DEFAULTS, message_event=asyncio.Event(), expect_100_continue=False,
        keep_alive=keep_alive, on_response=lambda: events.append("complete"),
    )  # fmt: skip
    if roost:
        cycle.__class__ = ResponseCycle
        cycle.loop = asyncio.get_running_loop()  # type: ignore[attr-defined]
    return cycle, transport, events


async def _send_all(cycle: RequestResponseCycle, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await cycle.send(message)  # type: ignore[arg-type]
    await asyncio.sleep(0)  # a held head's flush runs


def _start(status: int, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": list(headers)}


def _body(body: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


async def test_head_and_body_leave_in_one_write() -> None:
    cycle, transport, events = _cycle(roost=True)
    await cycle.send(_start(200, (b"content-length", b"6")))  # type: ignore[arg-type]
    assert transport.calls == []
    await cycle.send(_body(b"{}", more=True))  # type: ignore[arg-type]
    await cycle.send(_body(b"more"))  # type: ignore[arg-type]
    head = b"HTTP/1.1 200 OK\r\ndate: Sat, 05 Dec 2026 11:24:56 GMT\r\nserver: roost\r\ncontent-length: 6\r\n\r\n"
    assert transport.calls == [("writelines", head + b"{}"), ("write", b"more")]
    assert events == ["complete"] and cycle.response_complete and cycle.message_event.is_set()
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
    assert len(transport.calls) == 2


async def test_a_head_without_body_goes_out_on_the_next_loop_turn() -> None:
    cycle, transport, _ = _cycle(roost=True)
    await cycle.send(_start(200, (b"content-type", b"text/event-stream")))  # type: ignore[arg-type]
    assert transport.calls == []
    await asyncio.sleep(0)
    assert transport.calls == [("write", b"HTTP/1.1 200 OK\r\ndate: Sat, 05 Dec 2026 11:24:56 GMT\r\nserver: roost\r\n"
                                         b"content-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")]  # fmt: skip
    await cycle.send(_body(b"data: 1\n\n", more=True))  # type: ignore[arg-type]
    assert transport.calls[-1] == ("write", b"9\r\ndata: 1\n\n\r\n")


#: each response as messages; Roost's writer must put on the wire what uvicorn's does
RESPONSES: dict[str, tuple[str, bool, list[dict[str, Any]]]] = {
    "json": ("GET", True, [_start(200, (b"Content-Type", b"application/json"), (b"content-length", b"2"), (b"X-Request-Id", b"ab\tc")), _body(b"{}")]),
    "chunked": ("GET", True, [_start(200, (b"content-type", b"text/plain")), _body(b"abc", True), _body(b"", True), _body(b"de")]),
    "explicit chunked": ("GET", True, [_start(200, (b"Transfer-Encoding", b"Chunked")), _body(b"x", True), _body(b"")]),
    "head": ("HEAD", True, [_start(200, (b"content-length", b"50")), _body(b"")]),
    "no content": ("DELETE", True, [_start(204), _body(b"")]),
    "not modified": ("GET", True, [_start(304, (b"etag", b'"v1"')), _body(b"")]),
    "connection close asked": ("GET", True, [_start(200, (b"content-length", b"1"), (b"Connection", b"keep-alive, Close")), _body(b"x")]),
    "no keep-alive": ("GET", False, [_start(404, (b"content-length", b"0")), _body(b"")]),
    "odd status": ("GET", True, [_start(599, (b"content-length", b"1")), _body(b"x")]),
    "split body": ("POST", True, [_start(201, (b"content-length", b"5")), _body(b"ab", True), _body(b"cde")]),
}


@pytest.mark.parametrize("name", list(RESPONSES))
async def test_the_bytes_on_the_wire_are_uvicorns(name: str) -> None:
    method, keep_alive, messages = RESPONSES[name]
    (ours, our_transport, our_events), (theirs, their_transport, their_events) = (
        _cycle(True, method, keep_alive), _cycle(False, method, keep_alive))  # fmt: skip
    await _send_all(ours, messages)
    await _send_all(theirs, messages)
    assert our_transport.written() == their_transport.written()
    assert our_transport.closed == their_transport.closed == (not keep_alive or name == "connection close asked")
    assert our_events == their_events == ["complete"]
    assert (ours.keep_alive, ours.chunked_encoding, ours.response_complete) == (theirs.keep_alive, theirs.chunked_encoding, True)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ([(b"x-ok", b"a\r\nset-cookie: injected=1")], "Invalid HTTP header value."),
        ([(b"x-ok", b"line\nbreak")], "Invalid HTTP header value."),
        ([(b"x-ok", b"nul\x00")], "Invalid HTTP header value."),
        ([(b"x-ok", b"del\x7f")], "Invalid HTTP header value."),
        ([(b"x bad", b"v")], "Invalid HTTP header name."),
        ([(b"x:bad", b"v")], "Invalid HTTP header name."),
        ([(b"x\r\nbad", b"v")], "Invalid HTTP header name."),
        ([(b"", b"v")], "Invalid HTTP header name."),  # uvicorn writes a line ": v"; Roost refuses it
    ],
)
async def test_a_header_that_could_break_the_head_is_refused_as_uvicorn_refuses_it(headers: list[tuple[bytes, bytes]], error: str) -> None:
    writers = (True, False, True) if headers[0][0] else (True, True)  # Roost twice: a name it has seen
    for roost in writers:
        cycle, transport, _ = _cycle(roost)
        with pytest.raises(RuntimeError, match=error):
            await cycle.send(_start(200, (b"content-length", b"0"), *headers))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert transport.calls == []


async def test_the_wrong_message_order_and_a_body_that_does_not_fit_raise_as_in_uvicorn() -> None:
    cycle, _, _ = _cycle(roost=True)
    with pytest.raises(RuntimeError, match=r"Expected ASGI message 'http\.response\.start'"):
        await cycle.send(_body(b"x"))  # type: ignore[arg-type]
    cycle, _, _ = _cycle(roost=True)
    await cycle.send(_start(200, (b"content-length", b"1")))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="longer than Content-Length"):
        await cycle.send(_body(b"xx"))  # type: ignore[arg-type]
    cycle, _, _ = _cycle(roost=True)
    await cycle.send(_start(200, (b"content-length", b"3")))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="shorter than Content-Length"):
        await cycle.send(_body(b"x"))  # type: ignore[arg-type]
    cycle, _, _ = _cycle(roost=True)
    await _send_all(cycle, [_start(200, (b"content-length", b"1")), _body(b"x")])
    with pytest.raises(RuntimeError, match="after response already completed"):
        await cycle.send(_body(b"y"))  # type: ignore[arg-type]


#: loaded into a served process through PYTHONPATH: after each collection, writes how many
#: unreachable objects the collector has found so far and how many objects are frozen
_GC_PROBE = '''
import gc, json, os
_found = [0]
def _probe(phase, info):
    if phase == "stop":
        _found[0] += info["collected"] + info["uncollectable"]
        with open(os.environ["ROOST_TEST_GC_PROBE"] + ".tmp", "w") as f:
            json.dump({"found": _found[0], "frozen": gc.get_freeze_count()}, f)
        os.replace(os.environ["ROOST_TEST_GC_PROBE"] + ".tmp", os.environ["ROOST_TEST_GC_PROBE"])
gc.callbacks.append(_probe)
'''


def test_served_requests_leave_no_garbage_and_the_start_up_heap_is_frozen(tmp_path: Path) -> None:
    """Under ``roost serve`` each request's response cycle, scope and send are freed by reference
    counting as the answer ends; a reference cycle among them left every request to the garbage
    collector (8 objects each). The objects the app built at start-up are frozen, so full
    collections do not walk them."""
    probe_dir, report = tmp_path / "probe", tmp_path / "gc.json"
    probe_dir.mkdir()
    (probe_dir / "sitecustomize.py").write_text(_GC_PROBE)
    env = {"PYTHONPATH": str(probe_dir), "ROOST_TEST_GC_PROBE": str(report)}
    with roost_process(tmp_path / "serve", "--workers", "1", env=env) as server:
        host, port = server.base_url.removeprefix("http://").split(":")

        def requests(count: int) -> None:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                reader = sock.makefile("rb")
                for _ in range(count):
                    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    length = 0
                    while (line := reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    assert len(reader.read(length)) == length

        requests(200)  # warm: first-use imports and caches
        before = json.loads(report.read_text())
        requests(3000)  # a few hundred collections' worth of allocations
        after = json.loads(report.read_text())
    assert before["frozen"] > 10_000, before
    assert after["found"] - before["found"] < 1500, (before, after)  # 8 a request (24,000) with the cycle
