"""Open realtime streams (SSE and WebSocket together) per client IP, capped per process.

Each stream holds a socket, a task and a queue for as long as the client likes, so one address
opening hundreds of them could exhaust the server. The cap counts the real IP (``trustedProxy``
aware), so it still tells clients apart behind a reverse proxy, where the per-connection cap of
``roost serve`` only sees the proxy. ``roost serve --max-streams-per-ip`` sets it; 0 = no cap.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from roost.tools.ratelimit.slots import Slots


def stream_slots(connection: HTTPConnection) -> Slots:
    """The stream slots of this ASGI app (made in ``build_asgi``)."""
    slots: Slots = connection.app.state.stream_slots
    return slots
