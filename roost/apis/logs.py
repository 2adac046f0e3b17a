"""Logs routes (superusers only): list, view and hourly stats of ``app.logs``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import INT, OBJ, STR, arr, list_of, obj
from roost.apis.request import app_of, list_query
from roost.apis.responses import json_response
from roost.apis.routing import route


async def list_logs(request: Request) -> Response:
    info = await require_superuser(request)
    page = await app_of(request).logs.list_page(list_query(request), info)
    body = {"items": page.items, "page": page.page, "perPage": page.per_page,
            "totalItems": page.total_items, "totalPages": page.total_pages}  # fmt: skip
    return json_response(request, body)


async def log_stats(request: Request) -> Response:
    info = await require_superuser(request)
    stats = await app_of(request).logs.stats(request.query_params.get("filter", ""), info)
    return json_response(request, stats)


async def view_log(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, await app_of(request).logs.view(request.path_params["id"]))


_LOG = obj(("id", "created", "data", "message", "level"), id=STR, created=STR, data=OBJ, message=STR, level=INT)
_STAT = obj(("total", "date"), total=INT, date=STR)
_SU = "superuser"
routes = [
    route("/api/logs", list_logs, ["GET"],
          openapi=Op("List request and app logs", "logs", access=_SU, result=list_of(_LOG), errors=(400, 401, 403),
                     query=("page", "perPage", "sort", "filter", "fields", "skipTotal"))),
    route("/api/logs/stats", log_stats, ["GET"],
          openapi=Op("Log entries per hour", "logs", access=_SU, result=arr(_STAT), errors=(400, 401, 403),
                     query=("filter", "fields"))),
    route("/api/logs/{id}", view_log, ["GET"],
          openapi=Op("View a log entry", "logs", access=_SU, result=_LOG, errors=(401, 403, 404))),
]  # fmt: skip
