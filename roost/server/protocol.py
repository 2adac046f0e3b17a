"""uvicorn's httptools protocol with the connection limits it lacks.

httptools (llhttp) has no header-read deadline and no header size limit, and uvicorn adds
neither: a client sending one header byte a second held its socket indefinitely, and 96 MB of
headers were read into memory. This subclass adds, per connection:

* a deadline for the request head (request line and headers), armed when the connection opens
  and again when the next request on it begins; a head still incomplete at the deadline closes
  the connection (with 408 when part of it arrived), as Go's ``ReadHeaderTimeout`` does for
  PocketBase;
* a size limit on the head, answered with 431 as Go answers past ``MaxHeaderBytes``. Bytes are
  counted as they arrive, before parsing, so the limit is exact to within one read;
* a cap on open connections per peer address in this process, answered with 429 and closed
  before any byte is read.

Everything else (keep-alive timeout, WebSocket upgrade, flow control) is uvicorn's own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roost.tools.ratelimit.slots import Slots

TOO_MANY = b'{"data":{},"message":"Too Many Requests.","status":429}'
HEAD_TOO_LARGE = b'{"data":{},"message":"Request Header Fields Too Large.","status":431}'


@dataclass
class ConnectionGuard:
    """The limits of one server process, and its open connections per peer address."""

    header_timeout: float = 10.0
    max_header_size: int = 64 << 10
    #: 0 = no cap
    max_connections_per_ip: int = 256
    connections: Slots = field(init=False)

    def __post_init__(self) -> None:
        self.connections = Slots(self.max_connections_per_ip)


def _response(status: bytes, body: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status, b"content-type: application/json", b"content-length: " + str(len(body)).encode(),
            b"connection: close", b"", b""]  # fmt: skip
    return b"\r\n".join(head) + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus the head deadline, the head size limit and the per-IP cap."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.guard: ConnectionGuard = getattr(config, "connection_guard", None) or ConnectionGuard()
        self._peer = ""
        self._admitted = False
        self._head_bytes = 0
        self._in_body = False
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer = self.client[0] if self.client else ""
        if not self.guard.connections.acquire(self._peer):
            transport.write(_response(b"429 Too Many Requests", TOO_MANY))
            transport.close()
            return
        self._admitted = True
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_body:
            before = self._head_bytes
            self._head_bytes += len(data)
            if self._head_bytes > self.guard.max_header_size:
                # one chunk often holds the head and the start of the body: only the head counts
                end = data.find(b"\r\n\r\n")
                if end < 0 or before + end + 4 > self.guard.max_header_size:
                    self._refuse(_response(b"431 Request Header Fields Too Large", HEAD_TOO_LARGE))
                    return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._in_body, self._head_bytes = True, 0
        self._cancel_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # the WebSocket protocol takes the transport over (and its connection_lost); the realtime
        # route caps WebSocket streams per IP itself
        self._release()
        super().handle_websocket_upgrade()

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self.guard.header_timeout, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._in_body or self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(_response(b"408 Request Timeout", b""))
        else:
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self._cancel_head_deadline()
        self.transport.write(response)
        self.transport.close()

    def _release(self) -> None:
        self._cancel_head_deadline()
        if self._admitted:
            self._admitted = False
            self.guard.connections.release(self._peer)
