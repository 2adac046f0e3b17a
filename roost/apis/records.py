"""Records REST routes: parse -> one core call -> serialise."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.http_cache import cached_read
from roost.apis.request import app_of, list_query, read_body, read_uploads, request_info
from roost.apis.responses import json_response, no_content
from roost.core import expand, queries, records
from roost.core.app import App
from roost.core.collections import Collection
from roost.core.errors import NotFound
from roost.core.events import RequestInfo


def collection_or_404(request: Request, message: str = "Missing or invalid collection context.") -> Collection:
    coll = app_of(request).collections.get(request.path_params["collection"])
    if coll is None:
        raise NotFound(message)
    return coll


async def render(app: App, coll: Collection, items: list[dict[str, Any]], info: RequestInfo, expand_param: str) -> list[dict[str, Any]]:
    if expand_param:
        await expand.expand_records(app, coll, items, expand_param, info)
    return [expand.present(app, coll, r, info) for r in items]


async def present_records(request: Request, coll: Collection, items: list[dict[str, Any]], info: RequestInfo) -> list[dict[str, Any]]:
    return await render(app_of(request), coll, items, info, request.query_params.get("expand", ""))


async def list_records(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    page = await queries.list_records(app_of(request), coll, list_query(request), info)
    items = await present_records(request, coll, page.items, info)
    body = {"items": items, "page": page.page, "perPage": page.per_page, "totalItems": page.total_items, "totalPages": page.total_pages}
    if "cursor" in request.query_params:  # keyset pagination was asked for (a Roost extension)
        body["nextCursor"] = page.next_cursor
    return json_response(request, body)


async def view_record(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    record = await queries.view_record(app_of(request), coll, request.path_params["id"], info)
    return json_response(request, (await present_records(request, coll, [record], info))[0])


async def create_record(request: Request) -> Response:
    coll = collection_or_404(request)
    body, files = await read_body(request)
    info = await request_info(request, body)
    record = await records.create_record(app_of(request), coll, body, info, await read_uploads(files))
    return json_response(request, (await present_records(request, coll, [record], info))[0])


async def update_record(request: Request) -> Response:
    coll = collection_or_404(request)
    body, files = await read_body(request)
    info = await request_info(request, body)
    record = await records.update_record(app_of(request), coll, request.path_params["id"], body, info, await read_uploads(files))
    return json_response(request, (await present_records(request, coll, [record], info))[0])


async def delete_record(request: Request) -> Response:
    coll = collection_or_404(request)
    info = await request_info(request)
    await records.delete_record(app_of(request), coll, request.path_params["id"], info)
    return no_content()


routes = [
    Route("/api/collections/{collection}/records", cached_read("list", list_records), methods=["GET"]),
    Route("/api/collections/{collection}/records", create_record, methods=["POST"]),
    Route("/api/collections/{collection}/records/{id}", cached_read("view", view_record), methods=["GET"]),
    Route("/api/collections/{collection}/records/{id}", update_record, methods=["PATCH"]),
    Route("/api/collections/{collection}/records/{id}", delete_record, methods=["DELETE"]),
]
