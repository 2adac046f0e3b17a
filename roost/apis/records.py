"""Records REST routes: parse -> one core call -> serialise."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.http_cache import cached_read
from roost.apis.openapi.operation import REC, C, Op
from roost.apis.openapi.schema import LIST_PARAMS, list_of, ref
from roost.apis.request import app_of, list_query, query_of, read_body, read_uploads, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
from roost.core.errors import NotFound
from roost.core.events import RequestInfo
from roost.core.records import requests as records
from roost.core.records.present import present_records
from roost.core.schema.collection import Collection


def collection_or_404(request: Request, message: str = "Missing or invalid collection context.") -> Collection:
    coll = app_of(request).collections.get(request.path_params["collection"])
    if coll is None:
        raise NotFound(message)
    return coll


async def present(request: Request, coll: Collection, items: list[dict[str, Any]], info: RequestInfo) -> list[dict[str, Any]]:
    """The records as core presents them for this request's ``?expand=`` and ``?fields=``."""
    query = query_of(request)
    return await present_records(app_of(request), coll, items, info, expand=query.get("expand", ""), fields=query.get("fields", ""))


async def list_records(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    page = await records.list_records(app_of(request), coll, list_query(request), info)
    items = await present(request, coll, page.items, info)
    body = {"items": items, "page": page.page, "perPage": page.per_page, "totalItems": page.total_items, "totalPages": page.total_pages}
    if "cursor" in request.query_params:  # keyset pagination was asked for (a Roost extension)
        body["nextCursor"] = page.next_cursor
    return json_response(request, body, pick=False)


async def view_record(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    record = await records.view_record(app_of(request), coll, request.path_params["id"], info)
    return json_response(request, (await present(request, coll, [record], info))[0], pick=False)


async def create_record(request: Request) -> Response:
    coll = collection_or_404(request)
    body, files = await read_body(request)
    info = await request_info(request, body)
    record = await records.create_record(app_of(request), coll, body, info, await read_uploads(files))
    return json_response(request, (await present(request, coll, [record], info))[0], pick=False)


async def update_record(request: Request) -> Response:
    coll = collection_or_404(request)
    body, files = await read_body(request)
    info = await request_info(request, body)
    record = await records.update_record(app_of(request), coll, request.path_params["id"], body, info, await read_uploads(files))
    return json_response(request, (await present(request, coll, [record], info))[0], pick=False)


async def delete_record(request: Request) -> Response:
    coll = collection_or_404(request)
    info = await request_info(request)
    await records.delete_record(app_of(request), coll, request.path_params["id"], info)
    return no_content()


_RECORD = ref("Record")
_ERRORS = (400, 403, 404)
routes = [
    route(C + "/records", cached_read("list", list_records), ["GET"], tags=["list"],
          openapi=Op("List records", "records", result=list_of(_RECORD), errors=_ERRORS, query=LIST_PARAMS, scope="records", rule="listRule")),
    route(C + "/records", create_record, ["POST"], tags=["create"],
          openapi=Op("Create a record", "records", body=ref("RecordCreate"), result=_RECORD, errors=_ERRORS, query=REC,
                     scope="records", rule="createRule")),
    route(C + "/records/{id}", cached_read("view", view_record), ["GET"], tags=["view"],
          openapi=Op("View a record", "records", result=_RECORD, errors=(403, 404), query=REC, scope="records", rule="viewRule")),
    route(C + "/records/{id}", update_record, ["PATCH"], tags=["update"],
          openapi=Op("Update a record", "records", body=ref("RecordUpdate"), result=_RECORD, errors=_ERRORS, query=REC,
                     scope="records", rule="updateRule")),
    route(C + "/records/{id}", delete_record, ["DELETE"], tags=["delete"],
          openapi=Op("Delete a record", "records", errors=_ERRORS, scope="records", rule="deleteRule")),
]  # fmt: skip
