"""OAuth2 routes: auth-with-oauth2, the provider callback and the provider catalogue."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from roost.apis.auth.sessions import cookie_login, present_auth_record
from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import C, Op, login_op, param, raw
from roost.apis.openapi.schema import OBJ, STR, arr, obj, ref
from roost.apis.records import collection_or_404
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.auth import oauth2, oauth2_redirect, sessions
from roost.core.auth.flows import AUTH_CONTEXT_MISSING
from roost.core.errors import BadRequest, NotFound, RoostError
from roost.tools.oauth2 import providers as registry


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
    data = {"meta": meta, "record": await present_auth_record(request, coll, record, info), "token": token}
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


_REDIRECT = {**raw(303, "Redirect to the success or failure page (POST)."), **raw(307, "Redirect (GET).")}
routes = [
    route("/api/collections/meta/oauth2-providers", list_oauth2_providers, ["GET"],
          openapi=Op("OAuth2 providers", "collections", access="superuser", errors=(401, 403),
                     result=arr(obj(name=STR, displayName=STR, logo=STR)))),
    route(C + "/auth-with-oauth2", auth_with_oauth2, ["POST"], tags=["authWithOAuth2", "auth"], openapi=login_op(
        "Log in with OAuth2", obj(("provider", "code"), provider=STR, code=STR, codeVerifier=STR, redirectURL=STR, createData=OBJ),
        result=obj(token=STR, record=ref("Record"), meta=OBJ))),
    route("/api/oauth2-redirect", redirect_route, ["GET", "POST"], openapi={
        "GET": Op("OAuth2 provider callback", "auth", responses=_REDIRECT, errors=(),
                  params=(param("state", STR, "OAuth2 state"), param("code", STR, "OAuth2 code"))),
        "POST": Op("OAuth2 provider callback (form_post)", "auth", responses=_REDIRECT, errors=()),
    }),
]  # fmt: skip
