"""Routes of TOTP authenticator apps (a Roost addition): enrol, confirm, disable and
``auth-with-totp``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.auth import _auth_response as auth_response
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response, no_content
from roost.core.auth import flows, totp
from roost.core.collections import Collection


def _collection(request: Request) -> Collection:
    return flows.require_auth_collection(app_of(request).collections.get(request.path_params["collection"]))


async def enroll(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    return json_response(request, await totp.enroll(app_of(request), coll, info))


async def confirm(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    return json_response(request, {"recoveryCodes": await totp.confirm(app_of(request), coll, info, body)})


async def disable(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    await totp.disable(app_of(request), coll, info, body)
    return no_content()


async def auth_with_totp(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    info.context = "totp"
    record, token = await totp.auth_with_totp(app_of(request), coll, body, info)
    return await auth_response(request, coll, record, token, info)


_AUTH = "/api/collections/{collection}/"
routes = [
    Route(_AUTH + "totp/enroll", enroll, methods=["POST"]),
    Route(_AUTH + "totp/confirm", confirm, methods=["POST"]),
    Route(_AUTH + "totp", disable, methods=["DELETE"]),
    Route(_AUTH + "auth-with-totp", auth_with_totp, methods=["POST"]),
]
