"""Routes of passkeys (WebAuthn, a Roost addition): register, list, remove and log in."""

from __future__ import annotations

from types import ModuleType

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.auth.routes import auth_collection, auth_request, login
from roost.apis.openapi.operation import C, Op, login_op
from roost.apis.openapi.schema import BOOL, INT, OBJ, STR, arr, obj
from roost.apis.request import app_of, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route


def _passkeys() -> ModuleType:
    """The passkey service, imported on the first passkey request (it loads webauthn)."""
    from roost.core.auth import passkeys

    return passkeys


async def registration_options(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    return json_response(request, await _passkeys().registration_options(app_of(request), coll, info))


async def register(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    return json_response(request, await _passkeys().register(app_of(request), coll, info, body))


async def list_passkeys(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    return json_response(request, await _passkeys().list_passkeys(app_of(request), coll, info))


async def remove(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    await _passkeys().remove_passkey(app_of(request), coll, request.path_params["id"], info)
    return no_content()


async def authentication_options(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    return json_response(request, await _passkeys().authentication_options(app_of(request), coll, body, info))


async def auth_with_passkey(request: Request) -> Response:
    return await login(request, _passkeys().METHOD, _passkeys().auth_with_passkey)


_PASSKEY = obj(
    ("id", "credentialId"), id=STR, name=STR, credentialId=STR, aaguid=STR, deviceType=STR, backedUp=BOOL,
    transports=arr(STR), signCount=INT, lastUsed=STR, created=STR, updated=STR,
)
routes = [
    route(C + "/passkeys/registration-options", registration_options, ["POST"],
          openapi=Op("WebAuthn registration options for the caller", "passkeys", access="auth", result=OBJ, errors=(400, 401, 403, 404),
                     scope="auth")),
    route(C + "/passkeys", register, ["POST"],
          openapi=Op("Register a passkey (attestation response)", "passkeys", access="auth", body=obj(("credential",), credential=OBJ, name=STR),
                     result=_PASSKEY, errors=(400, 401, 403, 404), scope="auth")),
    route(C + "/passkeys", list_passkeys, ["GET"],
          openapi=Op("The caller's passkeys", "passkeys", access="auth", result=arr(_PASSKEY), errors=(401, 403, 404), scope="auth")),
    route(C + "/passkeys/{id}", remove, ["DELETE"],
          openapi=Op("Remove a passkey (owner or superuser)", "passkeys", access="auth", errors=(401, 403, 404), scope="auth")),
    route(C + "/request-passkey-options", authentication_options, ["POST"], tags=["requestPasskeyOptions"],
          openapi=Op("WebAuthn login options", "passkeys", body=obj(identity=STR, mfaId=STR), result=OBJ, errors=(400, 403, 404), scope="auth")),
    route(C + "/auth-with-passkey", auth_with_passkey, ["POST"], tags=["authWithPasskey", "auth"],
          openapi=login_op("Log in (or finish MFA) with a passkey", obj(("credential",), credential=OBJ, mfaId=STR), tag="passkeys")),
]  # fmt: skip
