"""uvicorn writes a response's head and body in two socket writes; Roost's protocol holds the head
and writes both at once (``roost.server.protocol.HeadWithBody``). A transport that records the
calls it gets stands in for the socket here; ``tests/security/test_connection_limits.py`` and the
SSE tests run the protocol against real sockets."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from roost.server.protocol import HeadWithBody


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


def _held(response_started: bool = False) -> tuple[HeadWithBody, RecordingTransport, SimpleNamespace]:
    transport, cycle = RecordingTransport(), SimpleNamespace(response_started=response_started)
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
