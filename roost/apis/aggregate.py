"""The aggregate route (a Roost extension): parse -> one core call -> serialise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.http_cache import cached_read
from roost.apis.openapi.operation import C, Op, param
from roost.apis.openapi.schema import ANY, BOOL, INT, STR, arr, obj
from roost.apis.records import collection_or_404
from roost.apis.request import aggregate_query, app_of, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.records.aggregate import aggregate_records


async def aggregate(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    groups = await aggregate_records(app_of(request), coll, aggregate_query(request), info)
    body = {"items": groups.items, "page": groups.page, "perPage": groups.per_page,
            "totalItems": groups.total_items, "totalPages": groups.total_pages}  # fmt: skip
    return json_response(request, body, pick=False)


_GROUPS = obj(
    ("page", "perPage", "totalItems", "totalPages", "items"),
    page=INT, perPage=INT, totalItems=INT, totalPages=INT,
    items=arr({"type": "object", "additionalProperties": ANY,
               "description": "One group: each groupBy entry and each aggregate, keyed by its text as sent."}),
)  # fmt: skip
_PARAMS = (
    param("groupBy", STR, "Comma list of up to 5 fields to group by; a date field may take a UTC bucket: "
          "`created:year|month|week|day|hour` (weeks start on Monday). Hidden fields are refused."),
    param("fields", STR, "Comma list of up to 10 aggregates: `count`, `sum(f)`, `avg(f)`, `min(f)`, `max(f)` "
          "(sum and avg on number fields; min and max also on dates). Default `count`."),
    param("filter", STR, "Filter expression, ANDed with the collection's listRule (applied first)."),
    param("sort", STR, "Comma list of groupBy entries or aggregates, `-` for descending; ties fall back to the group keys."),
    param("page", INT, "Page of groups (default 1)."),
    param("perPage", INT, "Groups per page (default 30, at most 1000)."),
    param("skipTotal", BOOL, "Skip counting the groups: `totalItems` and `totalPages` are -1."),
)
routes = [
    route(
        C + "/aggregate", cached_read("aggregate", aggregate), ["GET"], tags=["list"],
        openapi=Op("Aggregate records", "records", result=_GROUPS, errors=(400, 403, 404), params=_PARAMS,
                   scope="records", rule="listRule",
                   description="Groups the records the caller may list and computes count, sum, avg, min and max "
                               "per group (a Roost extension)."),
    ),
]  # fmt: skip
