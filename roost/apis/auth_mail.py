"""Routes of the e-mail based auth flows: verification, password reset, email change, OTP,
and the settings test e-mail."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.auth import _auth_response as auth_response
from roost.apis.guards import require_superuser
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response, no_content
from roost.core.auth import email_flows, flows, otp
from roost.core.auth.test_email import send_test_email
from roost.core.collections import Collection


def _collection(request: Request) -> Collection:
    return flows.require_auth_collection(app_of(request).collections.get(request.path_params["collection"]))


async def request_verification(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    await email_flows.request_verification(app_of(request), coll, body)
    return no_content()


async def confirm_verification(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_verification(app_of(request), coll, body)
    return no_content()


async def request_password_reset(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    await email_flows.request_password_reset(app_of(request), coll, body)
    return no_content()


async def confirm_password_reset(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_password_reset(app_of(request), coll, body)
    return no_content()


async def request_email_change(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    await email_flows.request_email_change(app_of(request), coll, info, body)
    return no_content()


async def confirm_email_change(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    await email_flows.confirm_email_change(app_of(request), coll, body)
    return no_content()


async def request_otp(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    return json_response(request, {"otpId": await otp.request_otp(app_of(request), coll, body)})


async def auth_with_otp(request: Request) -> Response:
    coll = _collection(request)
    body, _ = await read_body(request)
    info = await request_info(request, body)
    info.context = "otp"
    record, token = await otp.auth_with_otp(app_of(request), coll, body, info)
    return await auth_response(request, coll, record, token, info)


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
