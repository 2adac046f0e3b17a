"""Reading a realtime SSE response frame by frame, for tests that watch a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def sse_frames(res: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """Each frame of ``res`` as ``{"id": ..., "event": ..., "data": ...}``."""
    buffer = ""
    async for chunk in res.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            yield dict(line.split(":", 1) for line in frame.splitlines() if ":" in line)
