"""The hub's wire format: length-prefixed frames of byte-string fields, over a Unix socket.

A frame is ``!I`` (the length of the rest), then ``!BI`` (an operation code and a request id),
then any number of fields, each ``!I`` (its length) and its bytes. Numbers travel as ASCII
decimals. Request ids let one connection carry many requests at once; replies echo the id, and
messages pushed to a subscriber use id 0.
"""

from __future__ import annotations

import asyncio
import struct

#: a frame larger than this closes the connection (a broken or hostile peer)
MAX_FRAME = 64 << 20

_LEN = struct.Struct("!I")
_HEAD = struct.Struct("!BI")

# client -> hub
PUBLISH = 1
SUBSCRIBE = 2
UNSUBSCRIBE = 3
PING = 4
GET = 10
SET = 11
DELETE = 12
INCR = 13
EXPIRY = 14
ADD = 15
INCR_EXISTING = 16
GET_MANY = 17
DELETE_PREFIX = 18
#: a connection has taken in an AUDIENCE frame that asked for it (the frame's request id)
ACK = 19
# hub -> client
REPLY = 100
ERROR = 101
MESSAGE = 102
#: how many other connections now subscribe to a channel (fields: channel, count); a request id
#: other than 0 asks for an ACK with that id once the client has taken it in
AUDIENCE = 103
#: the first frame of a connection: every channel with subscribers and their count, in pairs
HELLO = 104


class ProtocolError(Exception):
    """A frame that does not parse, or one past :data:`MAX_FRAME`."""


def encode(op: int, request_id: int, *fields: bytes) -> bytes:
    """One frame, ready to write."""
    parts = [_HEAD.pack(op, request_id)]
    for item in fields:
        parts.append(_LEN.pack(len(item)))
        parts.append(item)
    body = b"".join(parts)
    return _LEN.pack(len(body)) + body


def decode(body: bytes) -> tuple[int, int, list[bytes]]:
    """``(op, request_id, fields)`` of a frame's body (without its length prefix)."""
    if len(body) < _HEAD.size:
        raise ProtocolError("frame shorter than its header")
    op, request_id = _HEAD.unpack_from(body)
    fields: list[bytes] = []
    at, end = _HEAD.size, len(body)
    while at < end:
        if at + _LEN.size > end:
            raise ProtocolError("truncated field length")
        (size,) = _LEN.unpack_from(body, at)
        at += _LEN.size
        if at + size > end:
            raise ProtocolError("field runs past the frame")
        fields.append(body[at : at + size])
        at += size
    return op, request_id, fields


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, list[bytes]]:
    """The next frame; raises ``asyncio.IncompleteReadError`` at the end of the stream."""
    (size,) = _LEN.unpack(await reader.readexactly(_LEN.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is past the limit")
    return decode(await reader.readexactly(size))


def number(value: float) -> bytes:
    """A number as a field."""
    return repr(value).encode() if isinstance(value, float) else str(value).encode()


#: the page of shared data-version counters the hub creates next to its socket, for the response
#: cache of its workers (``roost.tools.cache.hub``): 8-byte slots, each starting at random
COUNTERS_FILE = "counters"
COUNTER_SLOTS = 4096
#: the page's size in bytes: one unsigned 64-bit word per slot
COUNTER_PAGE_BYTES = COUNTER_SLOTS * 8
