"""The request log, kept by the HTTP edge (:class:`roost.apis.middleware.stack.HttpEdge`): one
:class:`~roost.core.logs.RequestEntry` per finished request goes to ``app.logs``, and one
structured line to the ``roost.request`` logger (stdout under ``roost serve``).

The request path pays for a clock read, a status capture and one append: the row (user IP,
headers, auth) is built later by the writer job. An error answer's ``message`` and ``data`` are
kept as the entry's ``error`` and ``details``, as PocketBase logs them. The stdout line is
written only when something listens to ``roost.request`` at info level; it holds no header but
the User-Agent, and the URL's ``token`` values masked, like the row. Like the row, it is made
after the answer left: the request passes on what it is made from.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Scope

from roost.apis.request import request_info
from roost.core.events import RequestInfo
from roost.core.logs import Logs, RequestEntry, request_url
from roost.tools.structured_logs import log_line

log = logging.getLogger("roost.logs")
#: one line per finished request (kept out of the ``_logs`` table, which has its own rows)
ACCESS = logging.getLogger("roost.request")
#: error bodies larger than this are not parsed for the log's details
MAX_ERROR_BODY = 64 * 1024


class RequestLogger:
    """Turns every finished HTTP request into a ``logs`` entry (unless ``logs.maxDays`` is 0)
    and a stdout line (while ``roost.request`` logs at info)."""

    def __init__(self, logs: Logs) -> None:
        self.logs = logs

    def wanted(self) -> tuple[bool, bool]:
        """(a table row, a stdout line): what this request will be logged to."""
        return self.logs.enabled, ACCESS.isEnabledFor(logging.INFO)

    @staticmethod
    def logged(scope: Scope, status: int) -> bool:
        """Is this answer logged? The realtime stream is logged only when it fails (a successful
        one lasts for hours)."""
        return status >= 400 or scope["path"] != "/api/realtime" or scope["method"] != "GET"

    @staticmethod
    def has_credentials(headers: dict[bytes, bytes]) -> bool:
        """Does the request carry a token or an API key (whose owner its log names)?"""
        return b"authorization" in headers or b"x-api-key" in headers

    @staticmethod
    async def auth_of(scope: Scope) -> RequestInfo | None:
        """Who sent a request that no route authenticated (a health check with a token)."""
        try:
            return await request_info(Request(scope))
        except Exception:
            return None  # an invalid token is logged as a guest, as it was served

    def record(self, scope: Scope, headers: dict[bytes, bytes], request_id: bytes, status: int, exec_ms: float,
               error_body: bytes | None, info: RequestInfo | None, *, table: bool, line: bool) -> None:  # fmt: skip
        """Log one answered request that :meth:`logged` keeps (``info``: who sent it, when
        known); a failure is logged, never raised (the answer is out)."""
        try:
            client = scope.get("client")
            peer = client[0] if client else ""
            path = (scope.get("raw_path") or b"").decode("latin-1").split("?", 1)[0] or scope["path"]
            if line:
                route = getattr(scope.get("route"), "path", None)
                source = (request_id, scope["method"], path, scope.get("query_string", b""), route, status, exec_ms, peer,
                          info, headers.get(b"user-agent", b""))  # fmt: skip
                log_line(ACCESS, logging.ERROR if status >= 500 else logging.INFO, _line_of, source)
            if table:
                error = _error_of(error_body) if status >= 400 else None
                self.logs.add(RequestEntry(
                    time.time(), scope["method"], path, scope.get("query_string", b""), status, exec_ms,
                    peer, scope["headers"], info, error,
                ))  # fmt: skip
        except Exception:
            log.exception("could not log %s %s", scope["method"], scope["path"])


#: what a request's line is made from, taken as the request ends
LineSource = tuple[bytes, str, str, bytes, str | None, int, float, str, RequestInfo | None, bytes]


def _line_of(source: LineSource) -> tuple[str, dict[str, Any]]:
    """The request's structured line: ids, route template, status and timing, never a secret.
    Rendered after the answer left, with the other lines of the moment (see ``log_line``)."""
    request_id, method, path, query, route, status, exec_ms, peer, info, user_agent = source
    collection = info.auth_collection if info is not None and info.auth else None
    fields = {
        "request_id": request_id.decode(),
        "method": method,
        "url": request_url(path, query),
        "route": route,
        "status": status,
        "duration_ms": round(exec_ms, 3),
        "auth": collection.name if collection is not None else "",
        "auth_id": info.auth_id if info is not None and collection is not None else "",
        "ip": peer,
        "user_agent": user_agent.decode("latin-1"),
    }
    return f"{method} {path} {status}", fields


def _error_of(body: bytes | None) -> tuple[str, Any]:
    """``(message, details)`` of an error answer in Roost's ``{status, message, data}`` shape."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return "", None
    data = parsed.get("data")
    if isinstance(data, dict) and data:
        details: Any = {k: v.get("message", v) if isinstance(v, dict) else v for k, v in data.items()}
    else:
        details = None
    return str(parsed.get("message", "")), details


__all__ = ["MAX_ERROR_BODY", "RequestLogger"]
