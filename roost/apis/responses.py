"""JSON responses: orjson bytes, with ``?fields=`` picking applied to every 2xx body."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from roost.tools.picker import pick_fields


def json_response(request: Request, data: Any, status: int = 200, *, pick: bool = True) -> Response:
    """``pick=False`` when core already applied ``?fields=`` (records it presented)."""
    # an empty query string (most answers) is not parsed into a QueryParams
    fields = request.query_params.get("fields") if pick and request.scope.get("query_string") else None
    if fields:
        data = pick_fields(data, fields)
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)
