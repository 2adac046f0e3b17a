"""uvicorn writes a response's head and body in two socket writes; Roost's protocol holds the head
and writes both at once (``roost.server.protocol.HeadWithBody``). A transport that records the
calls it gets stands in for the socket here; ``tests/security/test_connection_limits.py`` and the
SSE tests run the protocol against real sockets."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from roost.server.protocol import HeadWithBody
from tests.roost_process import roost_process


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

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


class Cycle:  # uvicorn's response cycle, as far as HeadWithBody reads it
    def __init__(self, response_started: bool) -> None:
        self.response_started = response_started


def _held(response_started: bool = False) -> tuple[HeadWithBody, RecordingTransport, Cycle]:
    transport, cycle = RecordingTransport(), Cycle(response_started)
    return HeadWithBody(transport, cycle), transport, cycle  # type: ignore[arg-type]


async def test_head_and_body_leave_in_one_write() -> None:
    held, transport, cycle = _held()
    cycle.response_started = True
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.calls == []
    held.write(b"{}")
    held.write(b"more")
    assert transport.calls == [("writelines", b"HTTP/1.1 200 OK\r\n\r\n{}"), ("write", b"more")]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
    assert len(transport.calls) == 2


async def test_a_head_without_body_goes_out_on_the_next_loop_turn() -> None:
    held, transport, cycle = _held()
    cycle.response_started = True
    held.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    await asyncio.sleep(0)
    assert transport.calls == [("write", b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")]


async def test_a_continue_before_the_head_is_not_held_and_close_flushes_the_head() -> None:
    held, transport, cycle = _held()
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    cycle.response_started = True
    held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    held.close()
    assert transport.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n"), ("write", b"HTTP/1.1 204 No Content\r\n\r\n")]
    assert transport.closed and held.get_extra_info("peername") == "extra:peername"


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
