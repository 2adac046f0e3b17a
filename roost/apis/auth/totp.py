"""Routes of TOTP authenticator apps (a Roost addition): enrol, confirm, disable and
``auth-with-totp``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.auth.routes import auth_request, login
from roost.apis.openapi.operation import C, Op, login_op
from roost.apis.openapi.schema import STR, arr, obj, one_of
from roost.apis.request import app_of
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
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


_ERRORS = (400, 401, 403, 404)
routes = [
    route(C + "/totp/enroll", enroll, ["POST"],
          openapi=Op("Start TOTP enrolment", "totp", access="auth", result=obj(("secret", "otpauthURI"), secret=STR, otpauthURI=STR),
                     errors=_ERRORS, scope="auth")),
    route(C + "/totp/confirm", confirm, ["POST"],
          openapi=Op("Confirm TOTP enrolment", "totp", access="auth", body=obj(("code",), code=STR),
                     result=obj(("recoveryCodes",), recoveryCodes=arr(STR)), errors=_ERRORS, scope="auth")),
    route(C + "/totp", disable, ["DELETE"],
          openapi=Op("Disable TOTP", "totp", access="auth", body=one_of(obj(("code",), code=STR), obj(("password",), password=STR)),
                     errors=_ERRORS, scope="auth")),
    route(C + "/auth-with-totp", auth_with_totp, ["POST"], openapi=login_op(
        "Log in (or finish MFA) with a TOTP or recovery code",
        one_of(obj(("mfaId", "code"), mfaId=STR, code=STR), obj(("identity", "code"), identity=STR, code=STR)), tag="totp")),
]  # fmt: skip
