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
* one socket write per response where uvicorn makes two, and a cheaper head
  (:class:`ResponseCycle`).

The head deadline and uvicorn's keep-alive timeout (its value is kept) share one timer per
connection instead of a timer per request each (:meth:`GuardedHttpToolsProtocol._expect`).
Everything else (parsing, WebSocket upgrade, flow control) is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

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
#: what a connection waits for (see GuardedHttpToolsProtocol._expect)
_NOTHING, _HEAD, _IDLE = 0, 1, 2
#: the watch of a connection looks at most this often (a keep-alive timeout of 0 closes at once)
_MIN_LOOK = 0.05


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


#: bytes a header name may not hold (RFC 9110 tokens), and a header value (control characters
#: but the tab): the same rules uvicorn applies, checked with one ``bytes.translate`` each
_NOT_IN_NAME = bytes(range(0x20)) + b'\x7f()<>@,;:[]={} \t\\"'
_NOT_IN_VALUE = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
#: the headers that decide how the body is framed or whether the connection stays open
_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION = b"content-length: ", b"transfer-encoding: ", b"connection: "
_FRAMING = frozenset({_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION})
#: header names as sent -> the start of their line (lower case, then ": "), each name checked
#: once; a bounded cache, since an app may send names of its own
_NAMES: dict[bytes, bytes] = {}
_MAX_NAMES = 1024


def _header_start(raw: bytes) -> bytes:
    name = raw.lower()
    if not name or len(name.translate(None, _NOT_IN_NAME)) != len(name):
        raise RuntimeError("Invalid HTTP header name.")
    start = name + b": "
    if len(_NAMES) < _MAX_NAMES:
        _NAMES[raw] = start
    return start


class ResponseCycle(RequestResponseCycle):
    """uvicorn's request/response cycle with Roost's own response writer.

    * The head is held and written with the body's first bytes in one call: uvicorn writes them
      in two ``send`` syscalls, the larger share of a small answer's server time on loopback. A
      response whose body is late (a stream whose first frame waits) still gets its head out at
      the next turn of the event loop.
    * The head is rendered with each header name checked once per process (a cache of the names
      seen) and the values checked in one pass, where uvicorn runs two regular expressions per
      header: 4.6 against 1.6 µs for the ten headers of a health answer. The date and server
      headers, the same for a second, are rendered once.

    Everything else is uvicorn's: the framing rules (Content-Length, chunked, HEAD, 204/304),
    ``Connection: close``, the errors an app gets for a wrong message order, and the request side.
    The protocol adopts each cycle uvicorn makes (see
    :meth:`GuardedHttpToolsProtocol.on_headers_complete`).
    """

    #: set when the protocol adopts the cycle
    loop: asyncio.AbstractEventLoop
    #: the rendered head while it waits for the body; b"" once written (or before the start)
    head: bytes = b""

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if self.access_log:  # uvicorn's access lines (Roost turns them off): its writer
                await super().send(message)
                return
            if message["type"] != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
            self.response_started = True
            self.waiting_for_100_continue = False
            self.head = self._render_head(message["status"], message.get("headers", ()))
            self.loop.call_soon(self.flush_head)
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")
        if message["type"] != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            self.expected_content_length, body = 0, b""
        elif self.chunked_encoding:
            body = (b"%x\r\n%b\r\n" % (len(body), body) if body else b"") + (b"" if more_body else b"0\r\n\r\n")
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
        head = self.head
        if head:
            self.head = b""
            if body:
                self.transport.writelines((head, body))
            else:
                self.transport.write(head)
        elif body:
            self.transport.write(body)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    def flush_head(self) -> None:
        """Write the head if no body came with it (a late stream, an error before the body)."""
        head = self.head
        if head:
            self.head = b""
            if not self.transport.is_closing():
                self.transport.write(head)

    def _render_head(self, status: int, headers: Any) -> bytes:
        status_line = STATUS_LINE.get(status)
        if status_line is None:
            raise RuntimeError(f"Invalid HTTP status code: {status!r}.")
        lines, values, names = [status_line, _rendered_defaults(self.default_headers)], [], _NAMES
        has_connection_close = False
        for raw, value in headers:
            start = names.get(raw) or _header_start(raw)
            if start in _FRAMING:
                if start == _CONTENT_LENGTH:
                    if self.chunked_encoding is None:
                        self.expected_content_length = int(value)
                        self.chunked_encoding = False
                elif start == _TRANSFER_ENCODING:
                    if value.lower() == b"chunked":
                        self.expected_content_length = 0
                        self.chunked_encoding = True
                elif b"close" in [token.strip() for token in value.lower().split(b",")]:
                    self.keep_alive = False
                    has_connection_close = True
            lines.append(start + value + b"\r\n")
            values.append(value)
        joined = b"\t".join(values)
        if len(joined.translate(None, _NOT_IN_VALUE)) != len(joined):
            raise RuntimeError("Invalid HTTP header value.")
        if not self.keep_alive and not has_connection_close:
            lines.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)


#: the server's own headers (date, server), as uvicorn last set them, and rendered
_defaults: tuple[object, bytes] = (None, b"")


def _rendered_defaults(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The server's own headers, rendered once each time uvicorn replaces them (every second)."""
    global _defaults
    seen, rendered = _defaults
    if seen is not headers:
        rendered = b"".join(_header_start(name) + _checked_value(value) + b"\r\n" for name, value in headers)
        _defaults = (headers, rendered)
    return rendered


def _checked_value(value: bytes) -> bytes:
    if len(value.translate(None, _NOT_IN_VALUE)) != len(value):
        raise RuntimeError("Invalid HTTP header value.")
    return value


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus the head and body deadlines, the head size limit and the per-IP cap."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.guard: ConnectionGuard = getattr(config, "connection_guard", None) or ConnectionGuard()
        self._peer = ""
        self._admitted = False
        self._head_bytes = 0
        self._in_body = False
        #: what the connection waits for (see _expect), until when (loop time), and the timer
        #: that looks (one at a time, re-armed as it fires: no timer per request)
        self._waiting, self._due = _NOTHING, 0.0
        self._watch: asyncio.TimerHandle | None = None
        self._look_every = max(min(self.guard.header_timeout, self.timeout_keep_alive), _MIN_LOOK)
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
        self._expect(_HEAD, self.guard.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._waiting == _IDLE:  # the keep-alive wait ends with any byte (the next request)
            self._waiting = _NOTHING
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
        if self._waiting != _HEAD:  # a head already awaited (the first) keeps its deadline
            self._expect(_HEAD, self.guard.header_timeout)

    def on_headers_complete(self) -> None:
        self._in_body, self._head_bytes = True, 0
        self._waiting = _NOTHING
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.__class__ is RequestResponseCycle:  # a new request's cycle
            # adopted: its class becomes ResponseCycle (same attributes, Roost's send); uvicorn
            # creates it in the method above and has not run its task yet
            cycle.__class__ = ResponseCycle
            cast(ResponseCycle, cycle).loop = self.loop
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

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive wait on the connection's watch instead of a timer."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:  # pipelined requests: the next one starts
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._expect(_IDLE, self.timeout_keep_alive)

    def _expect(self, what: int, timeout: float) -> None:
        """Wait ``timeout`` seconds for ``what`` to end (a head to complete, an idle keep-alive
        connection to send its next request).

        uvicorn and the head deadline each set a timer per request and cancelled it, two timer
        handles created and dropped per request (about 1.5 µs). Here a deadline is two fields,
        and one timer per connection looks at them: it fires at most ``_look_every`` seconds
        (the shortest wait) after it was set, so a deadline set later, never sooner than that,
        is never passed unseen; a look before the deadline sets the timer again."""
        self._waiting, self._due = what, self.loop.time() + timeout
        if self._watch is None:
            self._watch = self.loop.call_later(min(timeout, self._look_every), self._look)

    def _look(self) -> None:
        self._watch = None
        what = self._waiting
        if what == _NOTHING or self.transport.is_closing():
            return
        left = self._due - self.loop.time()
        if left > 0:
            self._watch = self.loop.call_later(min(left, self._look_every), self._look)
        elif what == _HEAD:
            self._waiting = _NOTHING
            self._head_timed_out()
        else:  # idle past the keep-alive timeout: closed, as uvicorn closes it
            self._waiting = _NOTHING
            self.transport.close()

    def _stop_watching(self) -> None:
        self._waiting = _NOTHING
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _head_timed_out(self) -> None:
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
        self._stop_watching()
        self._cancel_body_deadline()
        self.transport.write(response)
        self.transport.close()

    def _release(self) -> None:
        self._stop_watching()
        self._cancel_body_deadline()
        if self._admitted:
            self._admitted = False
            self.guard.connections.release(self._peer)
