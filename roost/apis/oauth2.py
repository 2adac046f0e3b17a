"""OAuth2 routes: auth-with-oauth2, the provider callback and the provider catalogue."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.apis.guards import require_superuser
from roost.apis.records import collection_or_404, present_records
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response
from roost.apis.sessions import cookie_login
from roost.core.auth import oauth2, oauth2_redirect, sessions
from roost.core.auth import providers as registry
from roost.core.auth.flows import AUTH_CONTEXT_MISSING
from roost.core.errors import BadRequest, NotFound, RoostError
from roost.core.expand import present


async def auth_with_oauth2(request: Request) -> Response:
    coll = collection_or_404(request)
    if not coll.is_auth:
        raise NotFound(AUTH_CONTEXT_MISSING)
    oauth2.require_enabled(coll)
    try:
        body, _ = await read_body(request)
    except RoostError as exc:
        raise BadRequest(oauth2.LOAD_ERROR) from exc
    info = await request_info(request, body)
    record, token, meta = await oauth2.auth_with_oauth2(app_of(request), coll, body, info)
    if request.query_params.get("expand"):
        await present_records(request, coll, [record], info)
    data = {
        "meta": meta,
        "record": present(app_of(request), coll, record, info, show_email=True),
        "token": token,
    }
    if sessions.wants_cookie(info):
        return await cookie_login(request, coll, record, info, data)
    return json_response(request, data)


async def redirect_route(request: Request) -> Response:
    data: dict[str, Any]
    if request.method == "POST":
        try:
            data, _ = await read_body(request)
        except RoostError:
            data = {}
    else:
        data = dict(request.query_params)
    ip = request.client.host if request.client else ""
    ok = await oauth2_redirect.deliver_redirect(app_of(request), data, ip)
    status = 307 if request.method == "GET" else 303
    return RedirectResponse(
        oauth2_redirect.SUCCESS_PATH if ok else oauth2_redirect.FAILURE_PATH, status_code=status
    )


async def list_oauth2_providers(request: Request) -> Response:
    await require_superuser(request)
    specs = registry.all_specs()
    return json_response(
        request, [{"name": s.name, "displayName": s.display_name, "logo": s.logo} for s in specs]
    )


routes = [
    Route("/api/collections/meta/oauth2-providers", list_oauth2_providers, methods=["GET"]),
    Route("/api/collections/{collection}/auth-with-oauth2", auth_with_oauth2, methods=["POST"]),
    Route("/api/oauth2-redirect", redirect_route, methods=["GET", "POST"]),
]
