"""Health route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.request import request_info
from roost.apis.responses import json_response


async def health(request: Request) -> Response:
    info = await request_info(request)
    data = {}
    if info.is_superuser:
        data = {"canBackup": False, "realIP": info.ip, "possibleProxyHeader": ""}
    return json_response(request, {"message": "API is healthy.", "code": 200, "data": data})


routes = [Route("/api/health", health, methods=["GET", "HEAD"])]
