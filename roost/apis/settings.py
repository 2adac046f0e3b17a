"""Settings routes (superusers only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.guards import require_superuser
from roost.apis.request import app_of, read_body
from roost.apis.responses import json_response


async def get_settings(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, app_of(request).settings.public())


async def patch_settings(request: Request) -> Response:
    await require_superuser(request)
    body, _ = await read_body(request)
    return json_response(request, await app_of(request).settings.update(body))


routes = [
    Route("/api/settings", get_settings, methods=["GET"]),
    Route("/api/settings", patch_settings, methods=["PATCH"]),
]
