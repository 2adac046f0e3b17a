"""Auth routes of auth collections: methods, password login, refresh."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.auth.session_cookie import cookie_secret
from roost.apis.auth.sessions import cookie_login, present_auth_record, session_body
from roost.apis.openapi.operation import REC, C, Op, login_op
from roost.apis.openapi.schema import AUTH_RESPONSE, BOOL, INT, OBJ, STR, arr, obj
from roost.apis.request import app_of, auth_token, read_body, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.app import App
from roost.core.auth import flows, sessions
from roost.core.auth.impersonate import impersonate as impersonate_record
from roost.core.auth.oauth2 import list_providers as list_oauth2_providers
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.schema.collection import Collection

#: a core login flow: ``(app, auth collection, body, info) -> (record, token)``
LoginFlow = Callable[[App, Collection, dict[str, Any], RequestInfo], Awaitable[tuple[Record, str]]]


def auth_collection(request: Request) -> Collection:
    """The auth collection named in the path; 404 for a missing or non-auth one."""
    return flows.require_auth_collection(app_of(request).collections.get(request.path_params["collection"]))


async def auth_request(request: Request) -> tuple[Collection, dict[str, Any], RequestInfo]:
    """The auth collection, the parsed body and the request info of an auth route."""
    coll = auth_collection(request)
    body, _ = await read_body(request)
    return coll, body, await request_info(request, body)


async def login(request: Request, method: str, flow: LoginFlow) -> Response:
    """Run one login ``flow`` (``method`` names it for MFA and alerts) and answer as every login does."""
    coll, body, info = await auth_request(request)
    info.context = method
    record, token = await flow(app_of(request), coll, body, info)
    return await auth_response(request, coll, record, token, info)


async def auth_response(
    request: Request, coll: Collection, record: Record, token: str, info: RequestInfo, *, login: bool = True
) -> Response:
    """``{token, record}``; a login that asked for a cookie session gets the cookie instead of the token."""
    data = {"record": await present_auth_record(request, coll, record, info), "token": token}
    if login and sessions.wants_cookie(info):
        return await cookie_login(request, coll, record, info, data)
    return json_response(request, data)


async def auth_methods(request: Request) -> Response:
    coll = auth_collection(request)
    return json_response(request, flows.auth_methods(coll, await list_oauth2_providers(app_of(request), coll)))


async def auth_with_password(request: Request) -> Response:
    return await login(request, "password", flows.auth_with_password)


async def auth_refresh(request: Request) -> Response:
    coll = auth_collection(request)
    info = await request_info(request)
    record, token = await flows.auth_refresh(app_of(request), coll, info, auth_token(request))
    if info.session_id:
        # a cookie session is never turned into a bearer token that scripts could read
        return json_response(request, await session_body(request, coll, record, info, cookie_secret(request)))
    return await auth_response(request, coll, record, token, info, login=False)


async def impersonate(request: Request) -> Response:
    coll = auth_collection(request)
    body, _ = await read_body(request)
    info = await request_info(request)
    record, token = await impersonate_record(app_of(request), coll, request.path_params["id"], body, info)
    return await auth_response(request, coll, record, token, info, login=False)


_AUTH_METHODS = obj(
    ("password", "oauth2", "mfa", "otp"),
    password=obj(enabled=BOOL, identityFields=arr(STR)),
    oauth2=obj(enabled=BOOL, providers=arr(OBJ)),
    mfa=obj(enabled=BOOL, duration=INT),
    otp=obj(enabled=BOOL, duration=INT),
)
routes = [
    route(C + "/auth-methods", auth_methods, ["GET"], tags=["listAuthMethods"],
          openapi=Op("Auth methods", "auth", result=_AUTH_METHODS, errors=(403, 404), scope="auth")),
    route(C + "/auth-with-password", auth_with_password, ["POST"], tags=["authWithPassword", "auth"],
          openapi=login_op("Log in with a password", obj(("identity", "password"), identity=STR, password=STR, identityField=STR))),
    route(C + "/auth-refresh", auth_refresh, ["POST"], tags=["authRefresh"],
          openapi=Op("Refresh the auth token", "auth", access="auth", result=AUTH_RESPONSE, errors=(401, 403, 404), query=REC, scope="auth")),
    route(C + "/impersonate/{id}", impersonate, ["POST"],
          openapi=Op("Token of another record (non-refreshable)", "auth", access="superuser", body=obj(duration=INT),
                     result=AUTH_RESPONSE, errors=(400, 401, 403, 404), query=REC, scope="auth")),
]  # fmt: skip
