"""Settings routes (superusers only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import STR, Schema, obj
from roost.apis.request import app_of, read_body
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.file_storage import test_s3
from roost.core.settings_admin import list_settings, update_settings

_SETTINGS: Schema = {"type": "object", "description": "Runtime settings; secrets are never returned."}


async def get_settings(request: Request) -> Response:
    info = await require_superuser(request)
    return json_response(request, await list_settings(app_of(request), info))


async def patch_settings(request: Request) -> Response:
    info = await require_superuser(request)
    body, _ = await read_body(request)
    return json_response(request, await update_settings(app_of(request), info, body))


async def post_test_s3(request: Request) -> Response:
    await require_superuser(request)
    body, _ = await read_body(request)
    await test_s3(app_of(request), body)
    return Response(status_code=204)


routes = [
    route("/api/settings", get_settings, ["GET"],
          openapi=Op("View settings", "settings", access="superuser", result=_SETTINGS, errors=(401, 403))),
    route("/api/settings", patch_settings, ["PATCH"],
          openapi=Op("Update settings", "settings", access="superuser", body=_SETTINGS, result=_SETTINGS, errors=(400, 401, 403))),
    route("/api/settings/test/s3", post_test_s3, ["POST"],
          openapi=Op("Test the S3 connection", "settings", access="superuser", errors=(400, 401, 403),
                     body=obj(("filesystem",), filesystem=STR))),
]  # fmt: skip
