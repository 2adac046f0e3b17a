"""Routes of browser cookie sessions (a Roost addition) and the cookie form of auth responses."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.auth.session_cookie import clear_cookie, cookie_secret, set_cookie
from roost.apis.openapi.operation import Op, param
from roost.apis.openapi.schema import BOOL, OBJ, STR, arr, obj
from roost.apis.request import app_of, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
from roost.core.auth import session_admin, sessions
from roost.core.auth.session_guard import csrf_token
from roost.core.errors import Unauthorized
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.records.present import present_record
from roost.core.schema.collection import Collection


async def present_auth_record(request: Request, coll: Collection, record: Record, info: RequestInfo) -> dict[str, Any]:
    """The authenticated record as auth answers show it: its own e-mail visible, ``?expand=`` applied."""
    expand = request.query_params.get("expand", "")
    return await present_record(app_of(request), coll, record, info, expand=expand, show_email=True)


async def session_body(request: Request, coll: Collection, record: Record, info: RequestInfo, secret: str) -> dict[str, Any]:
    """What a cookie client gets instead of ``{token, record}``: the record and its CSRF token."""
    return {"record": await present_auth_record(request, coll, record, info), "csrfToken": csrf_token(secret)}


async def cookie_login(request: Request, coll: Collection, record: Record, info: RequestInfo, data: dict[str, Any]) -> Response:
    """Finish a login that asked for a cookie session: store it, set the cookie, drop the token."""
    app = app_of(request)
    if info.session_id:
        # the browser's previous session is replaced by this one
        await sessions.delete(app, [info.session_id])
    new = await sessions.start(app, coll, record, info)
    body = {k: v for k, v in data.items() if k != "token"}
    body["csrfToken"] = csrf_token(new.secret)
    response = json_response(request, body)
    set_cookie(response, new)
    return response


def _target(request: Request) -> tuple[str, str]:
    return request.query_params.get("collection", ""), request.query_params.get("record", "")


async def list_sessions(request: Request) -> Response:
    info = await request_info(request)
    return json_response(request, await session_admin.list_sessions(app_of(request), info, *_target(request)))


async def current_session(request: Request) -> Response:
    info = await request_info(request)
    if not info.session_id or info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires a valid session cookie.")
    return json_response(request, await session_body(request, info.auth_collection, info.auth, info, cookie_secret(request)))


def _ended(ended_current: bool) -> Response:
    response = no_content()
    if ended_current:
        clear_cookie(response)
    return response


async def revoke_session(request: Request) -> Response:
    info = await request_info(request)
    session_id = request.path_params["id"]
    await session_admin.revoke(app_of(request), info, session_id)
    return _ended(session_id == info.session_id)


async def revoke_sessions(request: Request) -> Response:
    info = await request_info(request)
    ended = await session_admin.revoke_all(app_of(request), info, *_target(request))
    return _ended(info.session_id in ended)


async def logout(request: Request) -> Response:
    info = await request_info(request)
    if info.session_id:
        await sessions.delete(app_of(request), [info.session_id])
    return _ended(True)


_SESSION = obj(
    ("id", "collectionId", "recordId", "current"), id=STR, collectionId=STR, recordId=STR, userAgent=STR, ip=STR,
    created=STR, lastSeen=STR, expires=STR, current=BOOL,
)
_TARGET = (param("collection", STR, "Superusers: the auth collection."), param("record", STR, "Superusers: the record id."))
routes = [
    route("/api/sessions", list_sessions, ["GET"],
          openapi=Op("Cookie sessions of the caller (superusers: of ?collection=&record=)", "sessions", access="auth",
                     result=arr(_SESSION), errors=(400, 401, 403), params=_TARGET)),
    route("/api/sessions", revoke_sessions, ["DELETE"],
          openapi=Op("Revoke every cookie session of the caller (or of the named record)", "sessions", access="auth",
                     errors=(400, 401, 403), params=_TARGET)),
    route("/api/sessions/current", current_session, ["GET"],
          openapi=Op("The record and CSRF token of the current cookie session", "sessions", access="auth",
                     result=obj(("record", "csrfToken"), record=OBJ, csrfToken=STR), errors=(401,))),
    route("/api/sessions/logout", logout, ["POST"], openapi=Op("End the current cookie session and clear the cookie", "sessions", errors=(403,))),
    route("/api/sessions/{id}", revoke_session, ["DELETE"],
          openapi=Op("Revoke one cookie session", "sessions", access="auth", errors=(401, 403, 404))),
]  # fmt: skip
