"""Collections REST routes (superusers only)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.guards import require_superuser
from roost.apis.request import app_of, list_query, read_body
from roost.apis.responses import json_response, no_content
from roost.core import collection_admin
from roost.core.collection_queries import list_collections
from roost.core.collections import Collection
from roost.core.errors import BadRequest, NotFound, RoostError
from roost.core.system_collections import scaffolds


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
    page = await list_collections(app_of(request), list_query(request), info)
    body = {"items": page.items, "page": page.page, "perPage": page.per_page,
            "totalItems": page.total_items, "totalPages": page.total_pages}  # fmt: skip
    return json_response(request, body)


async def view_route(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, _collection(request).to_dict())


async def create_route(request: Request) -> Response:
    await require_superuser(request)
    body = await _read_definition(request)
    coll = await app_of(request).collections.create(body)
    return json_response(request, coll.to_dict())


async def update_route(request: Request) -> Response:
    await require_superuser(request)
    existing = _collection(request)
    body = await _read_definition(request)
    coll = await app_of(request).collections.update(existing, body)
    return json_response(request, coll.to_dict())


async def delete_route(request: Request) -> Response:
    await require_superuser(request)
    await app_of(request).collections.delete(_collection(request))
    return no_content()


async def truncate_route(request: Request) -> Response:
    await require_superuser(request)
    await collection_admin.truncate(app_of(request), _collection(request))
    return no_content()


async def import_route(request: Request) -> Response:
    await require_superuser(request)
    body = await _read_definition(request)
    await collection_admin.import_collections(app_of(request), body.get("collections"), bool(body.get("deleteMissing")))
    return no_content()


async def scaffolds_route(request: Request) -> Response:
    await require_superuser(request)
    data: dict[str, Any] = scaffolds()
    return json_response(request, data)


routes = [
    Route("/api/collections/meta/scaffolds", scaffolds_route, methods=["GET"]),
    Route("/api/collections/import", import_route, methods=["PUT"]),
    Route("/api/collections", list_route, methods=["GET"]),
    Route("/api/collections", create_route, methods=["POST"]),
    Route("/api/collections/{collection}", view_route, methods=["GET"]),
    Route("/api/collections/{collection}", update_route, methods=["PATCH"]),
    Route("/api/collections/{collection}", delete_route, methods=["DELETE"]),
    Route("/api/collections/{collection}/truncate", truncate_route, methods=["DELETE"]),
]
