"""Turning a Starlette request into core inputs: RequestInfo, body data and list parameters."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.requests import HTTPConnection, Request
from starlette.types import Scope

from roost.apis.auth.session_cookie import COOKIE
from roost.apis.auth.session_cookie import authenticate as authenticate_cookie
from roost.core.app import App
from roost.core.auth import api_keys, tokens
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestHeaders, RequestInfo
from roost.core.records.aggregate import AggregateQuery
from roost.core.records.files import Upload
from roost.core.records.queries import ListQuery
from roost.tools.ratelimit.client_ip import client_ip

_CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})
_COOKIE = COOKIE.encode()
GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


_NO_QUERY: Mapping[str, str] = MappingProxyType({})
#: scope key of the core App serving the request, put there by the HTTP edge
APP_KEY = "roost.app"


def app_of(request: HTTPConnection) -> App:
    app: App | None = request.scope.get(APP_KEY)
    if app is None:  # a websocket, or a scope that did not come through the edge
        app = request.app.state.roost
    return app


def query_of(request: HTTPConnection) -> Mapping[str, str]:
    """The request's query parameters; an empty query string (most requests) is not parsed."""
    return request.query_params if request.scope.get("query_string") else _NO_QUERY


def client_ip_of(request: HTTPConnection) -> str:
    """The caller's real IP: the socket peer, or a ``trustedProxy`` header when configured."""
    proxy = app_of(request).settings.data.get("trustedProxy") or {}
    peer = request.client.host if request.client else ""
    return client_ip(peer, request.scope["headers"], proxy.get("headers") or (), bool(proxy.get("useLeftmostIP")))


def carries_credentials(scope: Scope) -> bool:
    """Does the request hold anything :func:`request_info` would authenticate (a bearer token,
    an API key, the session cookie)? Without any, the caller is a guest."""
    for name, value in scope["headers"]:
        if name in _CREDENTIAL_HEADERS or (name == b"cookie" and _COOKIE in value):
            return True
    return False


def auth_token(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    if header[:7].lower() == "bearer ":
        header = header[7:].strip()
    return header


async def request_info(request: Request, body: dict[str, Any] | None = None, *, authenticate: bool = True) -> RequestInfo:
    """Build (once per request) the transport-neutral caller description.

    ``authenticate=False`` leaves the caller a guest without looking at the token or cookie
    (routes that never act for the caller, so a session cookie is not held to the CSRF checks).
    """
    cached = request.scope.get("roost.info")
    if cached is not None:
        if body is not None:
            cached.body = body
        return cached  # type: ignore[no-any-return]
    info = RequestInfo(
        method=request.method,
        query=dict(request.query_params) if request.scope.get("query_string") else {},
        headers=RequestHeaders(request.scope["headers"]),
        body=body or {},
        ip=client_ip_of(request),
    )
    if not authenticate:
        return info
    if not carries_credentials(request.scope):  # a guest: no header to look into
        request.scope["roost.info"] = info
        return info
    token = auth_token(request) or request.headers.get("x-api-key", "").strip()
    if api_keys.looks_like_key(token):
        await api_keys.authenticate(app_of(request), token, info)
    elif token:
        found = await tokens.verify(app_of(request), token)
        if found is not None:
            info.auth_collection, info.auth, _claims = found
    elif COOKIE in request.cookies:
        await authenticate_cookie(request, app_of(request), info)
    request.scope["roost.info"] = info
    return info


def parse_go_bool(value: str | None) -> bool:
    if value is None or value == "":
        return False
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise BadRequest()


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest() from exc
    if not -(1 << 63) <= value < 1 << 63:  # Go's strconv.Atoi overflows there: PocketBase answers 400
        raise BadRequest()
    return value


def list_query(request: Request) -> ListQuery:
    params = request.query_params
    return ListQuery(
        page=int_param(request, "page", 1),
        per_page=int_param(request, "perPage", 30),
        sort=params.get("sort", ""),
        filter=params.get("filter", ""),
        skip_total=parse_go_bool(params.get("skipTotal")),
        cursor=params.get("cursor"),
        search=params.get("search", ""),
    )


def aggregate_query(request: Request) -> AggregateQuery:
    params = request.query_params
    return AggregateQuery(
        group_by=params.get("groupBy", ""),
        fields=params.get("fields", ""),
        filter=params.get("filter", ""),
        sort=params.get("sort", ""),
        page=int_param(request, "page", 1),
        per_page=int_param(request, "perPage", 30),
        skip_total=parse_go_bool(params.get("skipTotal")),
    )


def infer_value(raw: str) -> Any:
    """Multipart/urlencoded value guessing: bools, and numbers whose canonical form is identical."""
    if raw == "true":
        return True
    if raw == "false":
        return False
    try:
        number = float(raw)
    except ValueError:
        return raw
    if number != number or number in (float("inf"), float("-inf")):
        return raw
    return number if canonical_float(number) == raw else raw


def canonical_float(number: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``."""
    text = repr(number)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


async def read_uploads(files: dict[str, list[UploadFile]]) -> dict[str, list[Upload]]:
    """Starlette uploads -> core uploads backed by their spooled temp files (never read whole)."""
    return {key: [Upload.from_file(f.filename or "", f.file) for f in items] for key, items in files.items()}


async def read_form(request: Request) -> FormData:
    """The parsed form; 413 past the body limit, 400 for a malformed one."""
    try:
        return await request.form()
    except RoostError:  # the edge's body limit fires inside the parser: keep its 413
        raise
    except Exception as exc:  # multipart parser errors have no common base class
        raise BadRequest("Failed to load the submitted data due to invalid formatting.") from exc


async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, list[UploadFile]]]:
    """The request body as a dict (plus uploaded files by field name)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    files: dict[str, list[UploadFile]] = {}
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request)
        data: dict[str, Any] = {}
        for key in form:
            values = form.getlist(key)
            uploads = [v for v in values if isinstance(v, UploadFile)]
            if uploads:
                files.setdefault(key, []).extend(uploads)
                continue
            texts = [infer_value(str(v)) for v in values]
            if key == "@jsonPayload":
                for payload in values:
                    try:
                        decoded = orjson.loads(str(payload))
                    except orjson.JSONDecodeError as exc:
                        raise BadRequest("Failed to load the submitted data due to invalid formatting.") from exc
                    if isinstance(decoded, dict):
                        data.update(decoded)
                continue
            data[key] = texts[0] if len(texts) == 1 else texts
        return data, files
    raw = await request.body()
    if not raw.strip():
        return {}, files
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest() from exc
    if not isinstance(decoded, dict):
        raise BadRequest()
    return decoded, files
