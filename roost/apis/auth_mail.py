"""Routes of the e-mail based auth flows: verification, password reset, email change, OTP,
and the settings test e-mail."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.auth import auth_collection, auth_request, login
from roost.apis.guards import require_superuser
from roost.apis.request import app_of, read_body
from roost.apis.responses import json_response, no_content
from roost.core.auth import email_flows, otp
from roost.core.auth.test_email import send_test_email


async def request_verification(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    await email_flows.request_verification(app_of(request), coll, body)
    return no_content()


async def confirm_verification(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_verification(app_of(request), coll, body)
    return no_content()


async def request_password_reset(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    await email_flows.request_password_reset(app_of(request), coll, body)
    return no_content()


async def confirm_password_reset(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_password_reset(app_of(request), coll, body)
    return no_content()


async def request_email_change(request: Request) -> Response:
    coll, body, info = await auth_request(request)
    await email_flows.request_email_change(app_of(request), coll, info, body)
    return no_content()


async def confirm_email_change(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_email_change(app_of(request), coll, body)
    return no_content()


async def request_otp(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    return json_response(request, {"otpId": await otp.request_otp(app_of(request), coll, body)})


async def auth_with_otp(request: Request) -> Response:
    return await login(request, "otp", otp.auth_with_otp)


async def test_email(request: Request) -> Response:
    await require_superuser(request)
    body, _ = await read_body(request)
    await send_test_email(app_of(request), body)
    return no_content()


_AUTH = "/api/collections/{collection}/"
routes = [
    Route(_AUTH + "request-verification", request_verification, methods=["POST"]),
    Route(_AUTH + "confirm-verification", confirm_verification, methods=["POST"]),
    Route(_AUTH + "request-password-reset", request_password_reset, methods=["POST"]),
    Route(_AUTH + "confirm-password-reset", confirm_password_reset, methods=["POST"]),
    Route(_AUTH + "request-email-change", request_email_change, methods=["POST"]),
    Route(_AUTH + "confirm-email-change", confirm_email_change, methods=["POST"]),
    Route(_AUTH + "request-otp", request_otp, methods=["POST"]),
    Route(_AUTH + "auth-with-otp", auth_with_otp, methods=["POST"]),
    Route("/api/settings/test/email", test_email, methods=["POST"]),
]
