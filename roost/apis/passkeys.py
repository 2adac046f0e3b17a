"""Routes of passkeys (WebAuthn, a Roost addition): register, list, remove and log in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.auth import auth_collection, auth_request, login
from roost.apis.request import app_of, request_info
from roost.apis.responses import json_response, no_content
from roost.core.auth import passkeys


async def registration_options(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    return json_response(request, await passkeys.registration_options(app_of(request), coll, info))


async def register(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    return json_response(request, await passkeys.register(app_of(request), coll, info, body))


async def list_passkeys(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    return json_response(request, await passkeys.list_passkeys(app_of(request), coll, info))


async def remove(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    await passkeys.remove_passkey(app_of(request), coll, request.path_params["id"], info)
    return no_content()


async def authentication_options(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    return json_response(request, await passkeys.authentication_options(app_of(request), coll, body, info))


async def auth_with_passkey(request: Request) -> Response:
    return await login(request, passkeys.METHOD, passkeys.auth_with_passkey)


_AUTH = "/api/collections/{collection}/"
routes = [
    Route(_AUTH + "passkeys/registration-options", registration_options, methods=["POST"]),
    Route(_AUTH + "passkeys", register, methods=["POST"]),
    Route(_AUTH + "passkeys", list_passkeys, methods=["GET"]),
    Route(_AUTH + "passkeys/{id}", remove, methods=["DELETE"]),
    Route(_AUTH + "request-passkey-options", authentication_options, methods=["POST"]),
    Route(_AUTH + "auth-with-passkey", auth_with_passkey, methods=["POST"]),
]
