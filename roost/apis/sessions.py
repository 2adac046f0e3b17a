"""Routes of browser cookie sessions (a Roost addition) and the cookie form of auth responses."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.request import app_of, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.session_cookie import clear_cookie, cookie_secret, set_cookie
from roost.core.auth import session_admin, sessions
from roost.core.auth.session_guard import csrf_token
from roost.core.collections import Collection
from roost.core.errors import Unauthorized
from roost.core.events import RequestInfo
from roost.core.expand import present
from roost.core.record_io import Record


def session_body(request: Request, coll: Collection, record: Record, info: RequestInfo, secret: str) -> dict[str, Any]:
    """What a cookie client gets instead of ``{token, record}``: the record and its CSRF token."""
    return {"record": present(app_of(request), coll, record, info, show_email=True), "csrfToken": csrf_token(secret)}


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
    return json_response(request, session_body(request, info.auth_collection, info.auth, info, cookie_secret(request)))


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


routes = [
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions", revoke_sessions, methods=["DELETE"]),
    Route("/api/sessions/current", current_session, methods=["GET"]),
    Route("/api/sessions/logout", logout, methods=["POST"]),
    Route("/api/sessions/{id}", revoke_session, methods=["DELETE"]),
]
