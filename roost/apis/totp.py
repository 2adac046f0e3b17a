"""Routes of TOTP authenticator apps (a Roost addition): enrol, confirm, disable and
``auth-with-totp``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.auth import auth_request, login
from roost.apis.request import app_of
from roost.apis.responses import json_response, no_content
from roost.core.auth import totp


async def enroll(request: Request) -> Response:
    coll, _, info = await auth_request(request)
    return json_response(request, await totp.enroll(app_of(request), coll, info))


async def confirm(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    return json_response(request, {"recoveryCodes": await totp.confirm(app_of(request), coll, info, body)})


async def disable(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    await totp.disable(app_of(request), coll, info, body)
    return no_content()


async def auth_with_totp(request: Request) -> Response:
    return await login(request, "totp", totp.auth_with_totp)


_AUTH = "/api/collections/{collection}/"
routes = [
    Route(_AUTH + "totp/enroll", enroll, methods=["POST"]),
    Route(_AUTH + "totp/confirm", confirm, methods=["POST"]),
    Route(_AUTH + "totp", disable, methods=["DELETE"]),
    Route(_AUTH + "auth-with-totp", auth_with_totp, methods=["POST"]),
]
