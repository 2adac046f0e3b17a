"""Stop a request whose client went away, once it has run long enough to matter.

An ASGI server does not cancel a request when its client disconnects: a heavy query would run
on to the query timeout for nobody. Watching ``receive`` for ``http.disconnect`` takes a task, so
the watch starts only for a request still running after ``WATCH_AFTER`` seconds. The fast path
holds no task and no timer of its own: one timer per event loop looks over the requests in
flight every ``TICK`` seconds while there are any. On disconnect the request's task is
cancelled, which stops its statement: asyncpg sends the server a cancel request, and a SQLite
read in a worker thread is interrupted.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping

from starlette.types import Message, Receive

#: seconds a request runs before its client connection is watched (at most ``TICK`` more)
WATCH_AFTER = 0.5
#: how often the requests in flight are looked over
TICK = 0.25


class _InFlight:
    """The watched requests of one event loop, looked over by one timer instead of one each."""

    def __init__(self) -> None:
        self.watches: dict[int, DisconnectWatch] = {}
        #: is the timer set? (its handle is not kept: it refers to the loop, this object's key)
        self.ticking = False

    def add(self, watch: DisconnectWatch, loop: asyncio.AbstractEventLoop) -> None:
        self.watches[id(watch)] = watch
        if not self.ticking:
            self.ticking = True
            loop.call_later(TICK, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() - WATCH_AFTER
        for key, watch in list(self.watches.items()):
            if watch.since <= due:
                del self.watches[key]
                watch.start()
        self.ticking = bool(self.watches)
        if self.ticking:
            loop.call_later(TICK, self._tick)


#: per event loop (tests run many loops, one after the other)
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InFlight] = weakref.WeakKeyDictionary()
#: the last loop asked for (weakly) and its registry: one loop serves a process's requests
_last: tuple[weakref.ReferenceType[asyncio.AbstractEventLoop], _InFlight] | None = None


def _in_flight_of(loop: asyncio.AbstractEventLoop) -> _InFlight:
    global _last
    last = _last
    if last is not None and last[0]() is loop:
        return last[1]
    in_flight = _in_flight.get(loop)
    if in_flight is None:
        in_flight = _in_flight[loop] = _InFlight()
    _last = (weakref.ref(loop), in_flight)
    return in_flight


class DisconnectWatch:
    """Wraps ``receive``; after ``WATCH_AFTER`` it cancels the current task if the client leaves
    before the response has started. ``cancelled`` tells the caller that the cancellation was ours.

    ``headers`` are the request's, as a dict (they tell whether a body is still to come).
    """

    __slots__ = ("_body_read", "_in_flight", "_pending", "_receive", "_response_started", "_task", "_watcher",
                 "cancelled", "since")  # fmt: skip

    def __init__(self, headers: Mapping[bytes, bytes], receive: Receive, response_started: Callable[[], bool],
                 loop: asyncio.AbstractEventLoop) -> None:  # fmt: skip
        self._receive = receive
        self._response_started = response_started
        self._body_read = b"transfer-encoding" not in headers and headers.get(b"content-length", b"").strip() in (b"", b"0")
        self._pending: list[Message] = []
        self._task = asyncio.current_task(loop)
        self._watcher: asyncio.Task[None] | None = None
        self.cancelled = False
        self.since = loop.time()
        self._in_flight = in_flight = _in_flight_of(loop)
        in_flight.add(self, loop)

    async def receive(self) -> Message:
        if self._pending:
            return self._pending.pop(0)
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._body_read = True
        return message

    def start(self) -> None:
        """Watch the connection from now on (called once the request has run ``WATCH_AFTER``)."""
        # a body the app has not read yet must reach it untouched, and a started response (a
        # stream) watches its own connection
        if self._body_read and not self._response_started() and self._task is not None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self._response_started() and self._task is not None:
                    self.cancelled = True
                    self._task.cancel()
                return
            self._pending.append(message)  # the (empty) body of a request the app never read

    def owns(self) -> bool:
        """Was this cancellation ours alone (not also a server shutdown)?"""
        return self.cancelled and self._task is not None and self._task.uncancel() == 0

    def close(self) -> None:
        self._in_flight.watches.pop(id(self), None)
        if self._watcher is not None:
            self._watcher.cancel()
