"""Route-level auth requirements (who may call a route at all)."""

from __future__ import annotations

from starlette.requests import Request

from roost.apis.request import request_info
from roost.core.errors import Forbidden, Unauthorized
from roost.core.events import RequestInfo


async def require_superuser(request: Request) -> RequestInfo:
    info = await request_info(request)
    if info.auth is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if not info.is_superuser:
        raise Forbidden("The authorized record is not allowed to perform this action.")
    return info
