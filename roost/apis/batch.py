"""``POST /api/batch``: parse the JSON or multipart request, run it in core, serialise the results."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from roost.apis.errors import STATUS, sentenize
from roost.apis.middleware.ratelimit import check_batch_item
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import ANY, INT, OBJ, STR, arr, obj
from roost.apis.request import app_of, infer_value, read_form, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.errors import BadRequest, RoostError
from roost.core.records import batch as core_batch
from roost.core.records.files import Upload

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
                    uploads.setdefault(idx, {}).setdefault(name, []).append(Upload.from_file(value.filename or "", value.file))
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


def batch_failure(index: int, exc: RoostError) -> BadRequest:
    """PocketBase's nested error for a failed batch item (REST's ``/api/batch`` and GraphQL's ``batch``)."""
    status = STATUS.get(exc.kind, 400)
    inner = {"data": exc.data, "message": sentenize(exc.message), "status": status}
    return BadRequest(
        "Batch transaction failed.",
        {"requests": {str(index): {"code": "batch_request_failed", "message": "Batch request failed.", "response": inner}}},
    )


async def batch(request: Request) -> Response:
    app = app_of(request)
    core_batch.require_enabled(app)
    try:
        reqs, uploads = await _read_requests(request)
        _check_shapes(reqs)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise BadRequest("Failed to read the submitted batch data.") from exc
    core_batch.validate_items(app, reqs)  # before the caller is resolved, as PocketBase orders it
    info = await request_info(request)
    try:
        results = await core_batch.run_batch(app, info, reqs, uploads, check=partial(check_batch_item, app))
    except core_batch.BatchItemFailed as exc:
        raise batch_failure(exc.index, exc.error) from exc
    return json_response(request, [{"status": r.status, "body": r.body} for r in results])


_ITEM = obj(("method", "url"), method={"enum": ["POST", "PUT", "PATCH", "DELETE"]}, url=STR, headers=OBJ, body=OBJ)
routes = [
    route("/api/batch", batch, ["POST"], openapi=Op(
        "Several record writes in one transaction", "records", body=obj(("requests",), requests=arr(_ITEM)),
        result=arr(obj(("status",), status=INT, body=ANY)), errors=(400, 403),
        description="Off unless the `batch` settings enable it (403).")),
]  # fmt: skip
