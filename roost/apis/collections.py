"""Collections REST routes (superusers only)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import C, Op
from roost.apis.openapi.schema import BOOL, OBJ, arr, list_of, obj, ref
from roost.apis.request import app_of, list_query, read_body
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route
from roost.core import collection_admin
from roost.core.errors import BadRequest, NotFound, RoostError
from roost.core.schema.collection import Collection
from roost.core.schema.system import scaffolds


async def _read_definition(request: Request) -> dict[str, Any]:
    try:
        body, _ = await read_body(request)
    except RoostError as exc:
        raise BadRequest("Failed to load the collection type data due to invalid formatting.") from exc
    return body


def _collection(request: Request) -> Collection:
    coll = app_of(request).collections.get(request.path_params["collection"])
    if coll is None:
        raise NotFound()
    return coll


async def list_route(request: Request) -> Response:
    info = await require_superuser(request)
    page = await collection_admin.list_collections(app_of(request), list_query(request), info)
    body = {"items": page.items, "page": page.page, "perPage": page.per_page,
            "totalItems": page.total_items, "totalPages": page.total_pages}  # fmt: skip
    return json_response(request, body)


async def view_route(request: Request) -> Response:
    info = await require_superuser(request)
    coll = await collection_admin.view_collection(app_of(request), _collection(request), info)
    return json_response(request, coll.to_dict())


async def create_route(request: Request) -> Response:
    info = await require_superuser(request)
    body = await _read_definition(request)
    coll = await collection_admin.create_collection(app_of(request), body, info)
    return json_response(request, coll.to_dict() if coll else {})


async def update_route(request: Request) -> Response:
    info = await require_superuser(request)
    existing = _collection(request)
    body = await _read_definition(request)
    coll = await collection_admin.update_collection(app_of(request), existing, body, info)
    return json_response(request, coll.to_dict() if coll else {})


async def delete_route(request: Request) -> Response:
    info = await require_superuser(request)
    await collection_admin.delete_collection(app_of(request), _collection(request), info)
    return no_content()


async def truncate_route(request: Request) -> Response:
    await require_superuser(request)
    await collection_admin.truncate(app_of(request), _collection(request))
    return no_content()


async def import_route(request: Request) -> Response:
    info = await require_superuser(request)
    body = await _read_definition(request)
    await collection_admin.import_collections(app_of(request), body.get("collections"), bool(body.get("deleteMissing")), info)
    return no_content()


async def scaffolds_route(request: Request) -> Response:
    await require_superuser(request)
    data: dict[str, Any] = scaffolds()
    return json_response(request, data)


_SU = "superuser"
_COLLECTION = ref("Collection")
routes = [
    route("/api/collections/meta/scaffolds", scaffolds_route, ["GET"],
          openapi=Op("Blank collections of each type", "collections", access=_SU, result=OBJ, errors=(401, 403))),
    route("/api/collections/import", import_route, ["PUT"],
          openapi=Op("Import collections", "collections", access=_SU, errors=(400, 401, 403),
                     body=obj(("collections",), collections=arr(_COLLECTION), deleteMissing=BOOL))),
    route("/api/collections", list_route, ["GET"],
          openapi=Op("List collections", "collections", access=_SU, result=list_of(_COLLECTION), errors=(400, 401, 403),
                     query=("page", "perPage", "sort", "filter", "fields", "skipTotal"))),
    route("/api/collections", create_route, ["POST"],
          openapi=Op("Create a collection", "collections", access=_SU, body=_COLLECTION, result=_COLLECTION, errors=(400, 401, 403))),
    route(C, view_route, ["GET"], openapi=Op("View a collection", "collections", access=_SU, result=_COLLECTION, errors=(401, 403, 404))),
    route(C, update_route, ["PATCH"],
          openapi=Op("Update a collection", "collections", access=_SU, body=OBJ, result=_COLLECTION, errors=(400, 401, 403, 404))),
    route(C, delete_route, ["DELETE"], openapi=Op("Delete a collection", "collections", access=_SU, errors=(400, 401, 403, 404))),
    route(C + "/truncate", truncate_route, ["DELETE"],
          openapi=Op("Delete every record of a collection", "collections", access=_SU, errors=(400, 401, 403, 404))),
]  # fmt: skip
