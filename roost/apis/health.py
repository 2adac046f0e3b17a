"""Health route, which is also the readiness check: it fails while the database is unreachable."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.errors import RETRY_AFTER
from roost.apis.request import app_of, request_info
from roost.apis.responses import json_response
from roost.core.db import DatabaseUnavailable


async def health(request: Request) -> Response:
    # checked before the caller's auth, which needs the database too
    try:
        await app_of(request).db.check()
    except DatabaseUnavailable as exc:
        response = json_response(request, {"message": exc.message, "code": 503, "data": {}}, status=503)
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response
    info = await request_info(request)
    data = {}
    if info.is_superuser:
        data = {"canBackup": False, "realIP": info.ip, "possibleProxyHeader": ""}
    return json_response(request, {"message": "API is healthy.", "code": 200, "data": data})


routes = [Route("/api/health", health, methods=["GET", "HEAD"])]
