"""``POST /api/batch``: several record writes in one transaction, through the same core calls."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.errors import STATUS, sentenize
from roost.apis.picker import pick_fields
from roost.apis.ratelimit import check_batch_item
from roost.apis.records import render
from roost.apis.request import app_of, infer_value, read_form, request_info
from roost.apis.responses import json_response
from roost.core import records
from roost.core.app import App
from roost.core.errors import (
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    RoostError,
    ValidationFailed,
)
from roost.core.events import RequestInfo
from roost.core.files import Upload

_URL_RE = re.compile(r"^/api/collections/(?P<collection>[^/?]+)/records(?:/(?P<id>[^/?]+))?/?$")
_FILE_KEY_RE = re.compile(r"^requests(?:\.(\d+)|\[(\d+)\])\.(.+)$")


async def _read_requests(request: Request) -> tuple[list[Any], dict[int, dict[str, list[Upload]]]]:
    """The inner requests, plus uploads keyed by request index and field (``requests.N.field``)."""
    uploads: dict[int, dict[str, list[Upload]]] = {}
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await read_form(request)
        payload = form.get("@jsonPayload")
        data = orjson.loads(str(payload)) if payload is not None else {}
        reqs = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(reqs, list):
            return [], uploads
        for key in form:
            match = _FILE_KEY_RE.match(key)
            if not match:
                continue
            idx, name = int(match.group(1) or match.group(2)), match.group(3)
            for value in form.getlist(key):
                if isinstance(value, UploadFile):
                    uploads.setdefault(idx, {}).setdefault(name, []).append(Upload(value.filename or "", await value.read()))
                elif idx < len(reqs) and isinstance(reqs[idx], dict):
                    _set_body_value(reqs[idx], name, infer_value(str(value)))
        return reqs, uploads
    raw = await request.body()
    data = orjson.loads(raw) if raw.strip() else {}
    reqs = data.get("requests") if isinstance(data, dict) else None
    return (reqs if isinstance(reqs, list) else []), uploads


_ITEM_TYPES: dict[str, type] = {"method": str, "url": str, "headers": dict, "body": dict}


def _check_shapes(reqs: list[Any]) -> None:
    """ValueError unless every item decodes into PocketBase's batch item struct (Go's
    json.Unmarshal refuses a wrong type there: "Failed to read the submitted batch data")."""
    for item in reqs:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise ValueError("a batch item is not an object")
        for key, kind in _ITEM_TYPES.items():
            if item.get(key) is not None and not isinstance(item[key], kind):
                raise ValueError(f"batch item {key} is not a {kind.__name__}")
        if not all(isinstance(v, str) for v in (item.get("headers") or {}).values()):
            raise ValueError("batch item header values are not strings")


def _set_body_value(item: dict[str, Any], name: str, value: Any) -> None:
    if item.get("body") is None:
        item["body"] = {}
    if isinstance(item["body"], dict):  # else _check_shapes refuses the item
        item["body"][name] = value


def _validate(reqs: list[Any], max_requests: int) -> None:
    errors: dict[str, Any] = {}
    if not reqs:
        errors["requests"] = FieldError("validation_required", "Cannot be blank.")
    elif len(reqs) > max_requests:
        errors["requests"] = FieldError(
            "validation_length_too_long", f"The length must be no more than {max_requests}.", {"max": max_requests, "min": 0}
        )
    else:
        per: dict[str, Any] = {}
        for i, item in enumerate(reqs):
            if not isinstance(item, dict):
                per[str(i)] = {"method": FieldError("validation_required", "Cannot be blank.")}
                continue
            err: dict[str, Any] = {}
            if not item.get("method"):
                err["method"] = FieldError("validation_required", "Cannot be blank.")
            if not item.get("url"):
                err["url"] = FieldError("validation_required", "Cannot be blank.")
            if err:
                per[str(i)] = err
        if per:
            errors["requests"] = per
    if errors:
        raise ValidationFailed("Invalid batch request data.", errors)


async def _run_one(app: App, outer: RequestInfo, item: dict[str, Any], files: dict[str, list[Upload]]) -> tuple[int, Any]:
    method = str(item["method"]).upper()
    parts = urlsplit(str(item["url"]))
    match = _URL_RE.match(parts.path)
    query = dict(parse_qsl(parts.query))
    if (
        not match
        or method not in ("POST", "PUT", "PATCH", "DELETE")
        or (method in ("POST", "PUT") and match.group("id"))
        or (method in ("PATCH", "DELETE") and not match.group("id"))
    ):
        raise BadRequest()
    coll = app.collections.get(match.group("collection"))
    if coll is None:
        raise NotFound("Missing or invalid collection context.")
    body = item.get("body") or {}
    if not isinstance(body, dict):
        raise BadRequest("Failed to load the submitted data due to invalid formatting.")
    headers = dict(outer.headers)
    for key, value in (item.get("headers") or {}).items():
        if str(key).lower() != "authorization":
            headers[str(key).lower().replace("-", "_")] = str(value)
    info = RequestInfo(auth=outer.auth, auth_collection=outer.auth_collection, method=method, query=query,
                       headers=headers, body=body, context="batch", ip=outer.ip)  # fmt: skip
    record_id = match.group("id")
    if method == "PUT":
        method, record_id = ("PATCH", body["id"]) if body.get("id") and await records.fetch_record(app, coll, str(body["id"])) else ("POST", None)
    await check_batch_item(app, info, coll, {"POST": "create", "PATCH": "update", "DELETE": "delete"}[method])
    if method == "DELETE":
        await records.delete_record(app, coll, str(record_id), info)
        return 204, None
    if method == "POST":
        record = await records.create_record(app, coll, body, info, files)
    else:
        record = await records.update_record(app, coll, str(record_id), body, info, files)
    out = (await render(app, coll, [record], info, query.get("expand", "")))[0]
    return 200, pick_fields(out, query["fields"]) if query.get("fields") else out


def _failure(index: int, exc: RoostError) -> BadRequest:
    status = STATUS.get(exc.kind, 400)
    inner = {"data": exc.data, "message": sentenize(exc.message), "status": status}
    return BadRequest(
        "Batch transaction failed.",
        {"requests": {str(index): {"code": "batch_request_failed", "message": "Batch request failed.", "response": inner}}},
    )


async def batch(request: Request) -> Response:
    app = app_of(request)
    settings = app.settings.batch
    if not settings.get("enabled"):
        raise Forbidden("Batch requests are not allowed.")
    try:
        reqs, uploads = await _read_requests(request)
        _check_shapes(reqs)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise BadRequest("Failed to read the submitted batch data.") from exc
    _validate(reqs, int(settings.get("maxRequests") or 50))
    outer = await request_info(request)
    results: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(float(settings.get("timeout") or 3)), app.db.transaction():
            for index, item in enumerate(reqs):
                try:
                    status, body = await _run_one(app, outer, item, uploads.get(index, {}))
                except RoostError as exc:
                    raise _failure(index, exc) from exc
                results.append({"status": status, "body": body})
    except TimeoutError as exc:
        raise BadRequest("Batch transaction failed.") from exc
    return json_response(request, results)


routes = [Route("/api/batch", batch, methods=["POST"])]
