"""Serving a stored file as a stream, whole or as one HTTP byte range (RFC 9110 section 14).

Only a single range is honoured; a request for several gets the whole file (RFC 9110 allows a
server to ignore ``Range``). The bytes come from the backend's ranged read, so an S3 object is
fetched as the same range and never loaded whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """``(start, end)`` inclusive for a satisfiable single range; None to serve everything;
    False for an unsatisfiable one (416)."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end


class Streams(Protocol):
    """What :func:`stream_file` reads from: a storage backend, or anything with ranged reads."""

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...


def stream_file(request: Request, storage: Streams, key: str, size: int, mime: str, headers: dict[str, str]) -> Response:
    status, start, end = 200, 0, size - 1
    wanted = request.headers.get("range")
    if wanted and "," not in wanted:
        span = byte_range(wanted, size)
        if span is False:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if isinstance(span, tuple):
            status, (start, end) = 206, span
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
    headers = {**headers, "Content-Length": str(end - start + 1 if size else 0)}
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, media_type=mime, headers=headers)
    return StreamingResponse(storage.stream(key, start, end), status_code=status, media_type=mime, headers=headers)
