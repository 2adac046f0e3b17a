"""JSON responses: orjson bytes, with ``?fields=`` picking applied to every 2xx body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from roost.tools.picker import pick_fields

JSON = b"application/json"


def json_response(request: Request, data: Any, status: int = 200, *, pick: bool = True) -> Response:
    """``pick=False`` when core already applied ``?fields=`` (records it presented)."""
    # an empty query string (most answers) is not parsed into a QueryParams
    fields = request.query_params.get("fields") if pick and request.scope.get("query_string") else None
    if fields:
        data = pick_fields(data, fields)
    return raw_response(orjson.dumps(data), status)


class _Raw(Response):
    """A response whose header pairs are given as they go out (see :func:`raw_response`)."""

    def __init__(self, body: bytes, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status
        self.background = None
        self.raw_headers = headers


def raw_response(body: bytes, status: int = 200, headers: Sequence[tuple[bytes, bytes]] = (),
                 content_type: bytes | None = JSON) -> Response:  # fmt: skip
    """``body`` with ``headers`` (lower-case names), then its length and ``content_type``, the
    pairs Starlette's ``Response`` would add, without its per-response header assembly (a JSON
    answer on every request). A 204 or 304 has no length; ``content_type=None`` sends none."""
    out = list(headers)
    if not (status < 200 or status in (204, 304)):
        out.append((b"content-length", str(len(body)).encode()))
    if content_type is not None:
        out.append((b"content-type", content_type))
    return _Raw(body, status, out)


def no_content() -> Response:
    return Response(status_code=204)
