"""Batch requests: several record writes in one transaction, through the request level.

The transport parses the outer request into plain items (``{method, url, headers, body}``) and
uploads keyed by item index; everything else happens here: the limits, the upsert of ``PUT``,
the per-item caller (its own headers, the outer auth), one transaction with the configured
timeout, and the presentation of each written record. A failing item aborts the batch with
:class:`BatchItemFailed`, which the transport turns into PocketBase's nested error shape.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from roost.core.errors import (
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    RoostError,
    ValidationFailed,
)
from roost.core.events import BatchRequestEvent, RequestInfo
from roost.core.records import requests
from roost.core.records.files import Upload
from roost.core.records.present import present_record
from roost.core.records.save import fetch_record
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

_URL_RE = re.compile(r"^/api/collections/(?P<collection>[^/?]+)/records(?:/(?P<id>[^/?]+))?/?$")
_ACTIONS = {"POST": "create", "PATCH": "update", "DELETE": "delete"}
#: a per-item check the transport adds (rate limits): ``(caller, collection, action)``
ItemCheck = Callable[[RequestInfo, Collection, str], Awaitable[None]]


class BatchItemFailed(Exception):
    """Item ``index`` failed with ``error``; nothing of the batch was stored."""

    def __init__(self, index: int, error: RoostError) -> None:
        super().__init__(f"batch item {index} failed: {error.message}")
        self.index = index
        self.error = error


@dataclass
class BatchResult:
    status: int
    body: Any = None


@dataclass
class _Run:
    uploads: dict[int, dict[str, list[Upload]]]
    check: ItemCheck | None
    results: list[BatchResult] = field(default_factory=list)


def require_enabled(app: App) -> None:
    """403 unless batch requests are enabled in the settings (checked before the body is read)."""
    if not app.settings.batch.get("enabled"):
        raise Forbidden("Batch requests are not allowed.")


def validate_items(app: App, items: list[Any]) -> None:
    """The batch form's checks: at least one item, at most ``maxRequests``, each with a method and url."""
    max_requests = int(app.settings.batch.get("maxRequests") or 50)
    errors: dict[str, Any] = {}
    if not items:
        errors["requests"] = FieldError("validation_required", "Cannot be blank.")
    elif len(items) > max_requests:
        errors["requests"] = FieldError(
            "validation_length_too_long",
            f"The length must be no more than {max_requests}.",
            {"max": max_requests, "min": 0},
        )
    else:
        per: dict[str, Any] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                per[str(i)] = {"method": FieldError("validation_required", "Cannot be blank.")}
                continue
            err = {
                key: FieldError("validation_required", "Cannot be blank.")
                for key in ("method", "url")
                if not item.get(key)
            }
            if err:
                per[str(i)] = err
        if per:
            errors["requests"] = per
    if errors:
        raise ValidationFailed("Invalid batch request data.", errors)


async def run_batch(
    app: App,
    info: RequestInfo,
    items: list[Any],
    uploads: dict[int, dict[str, list[Upload]]] | None = None,
    *,
    check: ItemCheck | None = None,
) -> list[BatchResult]:
    """Run the validated ``items`` in one transaction; ``on_batch_request`` wraps the whole run."""
    validate_items(app, items)
    run = _Run(uploads or {}, check)
    event = BatchRequestEvent(app=app, info=info, requests=items)
    await app.hooks.on_batch_request.trigger(event, partial(_run_all, run))
    return run.results


async def _run_all(run: _Run, event: BatchRequestEvent) -> None:
    app = event.app
    try:
        async with (
            asyncio.timeout(float(app.settings.batch.get("timeout") or 3)),
            app.db.transaction(),
        ):
            for index, item in enumerate(event.requests):
                try:
                    run.results.append(
                        await _run_one(app, event.info, item, run.uploads.get(index, {}), run.check)
                    )
                except RoostError as exc:
                    raise BatchItemFailed(index, exc) from exc
    except TimeoutError as exc:
        raise BadRequest("Batch transaction failed.") from exc


async def _run_one(
    app: App,
    outer: RequestInfo,
    item: dict[str, Any],
    files: dict[str, list[Upload]],
    check: ItemCheck | None,
) -> BatchResult:
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
    info = _item_info(outer, method, query, item.get("headers") or {}, body)
    record_id = match.group("id")
    if method == "PUT":  # an upsert: an update when the body names a stored record, else a create
        stored = body.get("id") and await fetch_record(app, coll, str(body["id"]))
        method, record_id = ("PATCH", body["id"]) if stored else ("POST", None)
    if check is not None:
        await check(info, coll, _ACTIONS[method])
    if method == "DELETE":
        await requests.delete_record(app, coll, str(record_id), info)
        return BatchResult(204)
    if method == "POST":
        record = await requests.create_record(app, coll, body, info, files)
    else:
        record = await requests.update_record(app, coll, str(record_id), body, info, files)
    out = await present_record(
        app, coll, record, info, expand=query.get("expand", ""), fields=query.get("fields", "")
    )
    return BatchResult(200, out)


def _item_info(
    outer: RequestInfo,
    method: str,
    query: dict[str, str],
    item_headers: dict[str, Any],
    body: dict[str, Any],
) -> RequestInfo:
    """The caller of one item: the outer auth and IP, the outer headers with the item's on top
    (an item never brings its own ``Authorization``)."""
    headers = dict(outer.headers)
    for key, value in item_headers.items():
        if str(key).lower() != "authorization":
            headers[str(key).lower().replace("-", "_")] = str(value)
    return RequestInfo(auth=outer.auth, auth_collection=outer.auth_collection, api_key=outer.api_key, method=method, query=query,
                       headers=headers, body=body, context="batch", ip=outer.ip)  # fmt: skip
