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
* a deadline for the request body, armed when the headers are complete and the body is not: a
  body still incomplete ``body_timeout`` seconds later answers 408 and closes (a bare close when
  the response has begun). A client that dribbles a body otherwise held its socket, and the
  request task waiting on it, for as long as it liked. Only time spent waiting for the client
  counts: while reading is paused because the app has not consumed what arrived (uvicorn's flow
  control), the clock stops, so a fast upload to a busy worker is not cut off. Go's
  ``ReadTimeout`` (5 minutes for head and body in PocketBase) bounds the same thing;
* a cap on open connections per peer address in this process, answered with 429 and closed
  before any byte is read;
* a short drain at shutdown for keep-alive connections that are idle when it starts (below);
* one socket write per response where uvicorn makes two: the response head is held until the
  body's first write and goes out with it (:class:`HeadWithBody`).

Everything else (keep-alive timeout, WebSocket upgrade, flow control) is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roost.tools.ratelimit.slots import Slots

TOO_MANY = b'{"data":{},"message":"Too Many Requests.","status":429}'
HEAD_TOO_LARGE = b'{"data":{},"message":"Request Header Fields Too Large.","status":431}'
#: How long a keep-alive connection that is idle when shutdown starts stays open. uvicorn closes
#: it at once, but a reverse proxy may be writing its next request on it at that moment: the
#: request is reset, and nginx does not replay a POST it has sent (the client gets a 502 in a
#: rolling restart). Within the grace a request on such a connection is answered with
#: ``Connection: close``; the listener is already closed, so the proxy's next new connection is
#: refused and goes to another instance. Shutdown waits at most this long for idle sockets.
SHUTDOWN_IDLE_GRACE = 1.0


@dataclass
class ConnectionGuard:
    """The limits of one server process, and its open connections per peer address."""

    header_timeout: float = 10.0
    #: 0 = no limit
    body_timeout: float = 300.0
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


class ReadClock(FlowControl):
    """uvicorn's flow control, also counting how long reading has been paused by the server."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__(transport)
        self._paused_total = 0.0
        self._paused_since = 0.0

    def pause_reading(self) -> None:
        if not self.read_paused:
            self._paused_since = time.monotonic()
        super().pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self._paused_total += time.monotonic() - self._paused_since
        super().resume_reading()

    def paused_seconds(self) -> float:
        """Seconds reading has been paused since the connection opened, the current pause included."""
        current = time.monotonic() - self._paused_since if self.read_paused else 0.0
        return self._paused_total + current


class HeadWithBody:
    """The transport as one response's cycle sees it: the head waits for the body's first write.

    uvicorn writes the status line and headers when ``http.response.start`` arrives and the
    body when ``http.response.body`` does: two ``send`` syscalls, the larger share of a small
    answer's server time on loopback. The head is held here and written with the first body
    bytes in one call. An app that starts a response and then waits (a stream whose first
    frame is late) still gets its head out at the next turn of the event loop.
    """

    __slots__ = ("_cycle", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        # weakly: the cycle holds this as its transport, and a reference back would make each
        # request's cycle garbage for the collector instead of freed as its answer ends
        self._cycle = weakref.ref(cycle)
        #: None before the head; the head bytes while held; b"" once written
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None and getattr(self._cycle(), "response_started", False):  # the head (a 100 Continue comes before it)
            self._held = data
            asyncio.get_running_loop().call_soon(self.flush)
        elif held:
            self._held = b""
            self._transport.writelines((held, data))
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus the head and body deadlines, the head size limit and the per-IP cap."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.guard: ConnectionGuard = getattr(config, "connection_guard", None) or ConnectionGuard()
        self._peer = ""
        self._admitted = False
        self._head_bytes = 0
        self._in_body = False
        self._head_deadline: asyncio.TimerHandle | None = None
        self._draining = False
        self._body_deadline: asyncio.TimerHandle | None = None
        #: when the current body started, in monotonic seconds and in paused seconds
        self._body_clock = (0.0, 0.0)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = self.clock = ReadClock(transport)
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
        # armed only for a body that did not come whole with its head: most requests never pay for it
        if (
            self._in_body
            and self._body_deadline is None
            and self.guard.body_timeout
            and not self.transport.is_closing()
        ):
            self._body_clock = (time.monotonic(), self.clock.paused_seconds())
            self._body_deadline = self.loop.call_later(
                self.guard.body_timeout, self._body_timed_out
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._in_body, self._head_bytes = True, 0
        self._cancel_head_deadline()
        super().on_headers_complete()
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.transport = HeadWithBody(self.transport, self.cycle)  # type: ignore[assignment]
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answer it, then close

    def shutdown(self) -> None:
        """Called by uvicorn when the server stops: see ``SHUTDOWN_IDLE_GRACE``."""
        if self.cycle is not None and not self.cycle.response_complete:
            super().shutdown()  # a request in progress: answered, then closed
            return
        self._draining = True
        self.loop.call_later(SHUTDOWN_IDLE_GRACE, self._close_if_idle)

    def _close_if_idle(self) -> None:
        # a head still arriving is left to the head deadline; a request in progress closes after
        # its answer (keep_alive is off)
        if self.transport.is_closing() or self._head_bytes:
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._cancel_body_deadline()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # the WebSocket protocol takes the transport over (and its connection_lost); the realtime
        # route caps WebSocket streams per IP itself; the upgrade request has no body to wait for
        self._in_body = False
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

    def _body_timed_out(self) -> None:
        self._body_deadline = None
        if not self._in_body or self.transport.is_closing():
            return
        started, paused = self._body_clock
        waited = time.monotonic() - started - (self.clock.paused_seconds() - paused)
        if waited < self.guard.body_timeout:  # part of the time the server was not reading
            self._body_deadline = self.loop.call_later(
                self.guard.body_timeout - waited, self._body_timed_out
            )
            return
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(_response(b"408 Request Timeout", b""))
        else:
            self.transport.close()

    def _cancel_body_deadline(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _refuse(self, response: bytes) -> None:
        self._cancel_head_deadline()
        self._cancel_body_deadline()
        self.transport.write(response)
        self.transport.close()

    def _release(self) -> None:
        self._cancel_head_deadline()
        self._cancel_body_deadline()
        if self._admitted:
            self._admitted = False
            self.guard.connections.release(self._peer)
