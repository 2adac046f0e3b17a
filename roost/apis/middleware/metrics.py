"""Request metrics, taken by the HTTP edge (:class:`roost.apis.middleware.stack.HttpEdge`).

Each request is counted under its route *template* (``/api/collections/{collection}/records``),
never its URL, so the number of series stays bounded whatever clients send. The count, the
latency and the in-flight gauge are taken when the response head leaves: a realtime stream is
counted when it opens, not hours later when it ends. A request answered before routing (a 429
from the rate limiter, a preflight, a 413) is matched against the routes to find its template.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Router
from starlette.types import Scope

from roost.apis.errors import CATCH_ALL
from roost.apis.route_group import MATCHED_ROUTE
from roost.apis.route_index import first_match, routes_to_try
from roost.tools.metrics import NO_ROUTE

#: what a request that never got a response head counts as: the client went away / a crash
CLIENT_CLOSED = 499
SERVER_ERROR = 500


def metrics_route(scope: Scope, router: Router) -> str:
    """The route template a request is counted under (``NO_ROUTE`` when no route serves it)."""
    route = scope.get(MATCHED_ROUTE) or scope.get("route") or _match(scope, router)
    if route is None or route is CATCH_ALL:
        return NO_ROUTE
    path = str(getattr(route, "path", "") or NO_ROUTE)
    return path + "/{path}" if isinstance(route, Mount) else path


def _match(scope: Scope, router: Router) -> BaseRoute | None:
    found = first_match(routes_to_try(router, scope), scope)
    return None if found is None else found[1].get(MATCHED_ROUTE, found[0])


__all__ = ["CLIENT_CLOSED", "SERVER_ERROR", "metrics_route"]
