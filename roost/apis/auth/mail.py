"""Routes of the e-mail based auth flows: verification, password reset, email change, OTP,
and the settings test e-mail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.auth.routes import auth_collection, auth_request, login
from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import C, Op, login_op
from roost.apis.openapi.schema import STR, obj
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
from roost.core.auth import email_flows, otp
from roost.core.auth.test_email import send_test_email


def _guest_flow(flow: Callable[..., Awaitable[None]]) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a mail flow a signed-out user starts or confirms: the caller's session
    cookie is not read, so a browser that holds one never meets the cookie CSRF check here."""

    async def endpoint(request: Request) -> Response:
        coll = auth_collection(request)
        body, _ = await read_body(request)
        info = await request_info(request, body, authenticate=False)
        await flow(app_of(request), coll, info, body)
        return no_content()

    endpoint.__name__ = endpoint.__qualname__ = flow.__name__
    return endpoint


request_verification = _guest_flow(email_flows.request_verification)
confirm_verification = _guest_flow(email_flows.confirm_verification)
request_password_reset = _guest_flow(email_flows.request_password_reset)
confirm_password_reset = _guest_flow(email_flows.confirm_password_reset)


async def request_email_change(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    await email_flows.request_email_change(app_of(request), coll, info, body)
    return no_content()


async def confirm_email_change(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body, authenticate=False)
    await email_flows.confirm_email_change(app_of(request), coll, info, body)
    return no_content()


async def request_otp(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body, authenticate=False)
    return json_response(request, {"otpId": await otp.request_otp(app_of(request), coll, info, body)})


async def auth_with_otp(request: Request) -> Response:
    return await login(request, "otp", otp.auth_with_otp)


async def test_email(request: Request) -> Response:
    await require_superuser(request)
    body, _ = await read_body(request)
    await send_test_email(app_of(request), body)
    return no_content()


_EMAIL = obj(("email",), email={"type": "string", "format": "email"})
_ERRORS = (400, 403, 404)
routes = [
    route(C + "/request-verification", request_verification, ["POST"], tags=["requestVerification"],
          openapi=Op("Send a verification e-mail", "auth", body=_EMAIL, errors=_ERRORS, scope="auth")),
    route(C + "/confirm-verification", confirm_verification, ["POST"], tags=["confirmVerification"],
          openapi=Op("Confirm a verification", "auth", body=obj(("token",), token=STR), errors=_ERRORS, scope="auth")),
    route(C + "/request-password-reset", request_password_reset, ["POST"], tags=["requestPasswordReset"],
          openapi=Op("Send a password reset e-mail", "auth", body=_EMAIL, errors=_ERRORS, scope="auth")),
    route(C + "/confirm-password-reset", confirm_password_reset, ["POST"], tags=["confirmPasswordReset"],
          openapi=Op("Set a new password", "auth", errors=_ERRORS, scope="auth",
                     body=obj(("token", "password", "passwordConfirm"), token=STR, password=STR, passwordConfirm=STR))),
    route(C + "/request-email-change", request_email_change, ["POST"], tags=["requestEmailChange"],
          openapi=Op("Send an e-mail change confirmation", "auth", access="auth", errors=(400, 401, 403, 404), scope="auth",
                     body=obj(("newEmail",), newEmail={"type": "string", "format": "email"}))),
    route(C + "/confirm-email-change", confirm_email_change, ["POST"], tags=["confirmEmailChange"],
          openapi=Op("Confirm an e-mail change", "auth", errors=_ERRORS, scope="auth", body=obj(("token", "password"), token=STR, password=STR))),
    route(C + "/request-otp", request_otp, ["POST"], tags=["requestOTP"],
          openapi=Op("Send a one-time password", "auth", body=_EMAIL, result=obj(("otpId",), otpId=STR), errors=_ERRORS, scope="auth")),
    route(C + "/auth-with-otp", auth_with_otp, ["POST"], tags=["authWithOTP", "auth"],
          openapi=login_op("Log in with a one-time password", obj(("otpId", "password"), otpId=STR, password=STR))),
    route("/api/settings/test/email", test_email, ["POST"],
          openapi=Op("Send a test e-mail", "settings", access="superuser", errors=(400, 401, 403),
                     body=obj(("email", "template"), email=STR, template=STR, collection=STR))),
]  # fmt: skip
