"""API key routes (superusers only): create (the key is shown once), list, view, revoke."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import DATETIME, STR, arr, obj
from roost.apis.request import app_of, read_body
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
from roost.core.auth import api_keys

_FIELDS = {"id": STR, "name": STR, "prefix": STR, "scopes": arr(STR), "allowedIPs": arr(STR),
           "expires": DATETIME, "lastUsed": DATETIME, "created": DATETIME, "updated": DATETIME}  # fmt: skip
_KEY = obj(tuple(_FIELDS), **_FIELDS)
_NEW_KEY = obj((*_FIELDS, "key"), **_FIELDS, key={"type": "string", "description": "The key itself: shown only in this answer."})
_CREATE = obj(("name", "scopes"), name=STR, scopes=arr(STR, description='`<collection>:<operation>` or `*`, e.g. "posts:list"'),
              allowedIPs=arr(STR), expires=DATETIME)  # fmt: skip


async def list_keys(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, await api_keys.list_keys(app_of(request)))


async def create_key(request: Request) -> Response:
    await require_superuser(request)
    body, _ = await read_body(request)
    return json_response(request, await api_keys.create_key(app_of(request), body))


async def view_key(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, await api_keys.view_key(app_of(request), request.path_params["id"]))


async def revoke_key(request: Request) -> Response:
    await require_superuser(request)
    app = app_of(request)
    await api_keys.revoke_key(app, request.path_params["id"])
    app.realtime.end_api_key_streams(request.path_params["id"])
    return no_content()


routes = [
    route("/api/keys", list_keys, ["GET"],
          openapi=Op("List API keys", "apiKeys", access="superuser", result=arr(_KEY), errors=(401, 403))),
    route("/api/keys", create_key, ["POST"],
          openapi=Op("Create an API key", "apiKeys", access="superuser", body=_CREATE, result=_NEW_KEY, errors=(400, 401, 403))),
    route("/api/keys/{id}", view_key, ["GET"],
          openapi=Op("View an API key", "apiKeys", access="superuser", result=_KEY, errors=(401, 403, 404))),
    route("/api/keys/{id}", revoke_key, ["DELETE"],
          openapi=Op("Revoke an API key", "apiKeys", access="superuser", errors=(401, 403, 404))),
]  # fmt: skip
