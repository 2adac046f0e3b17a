"""Routes that can be added and removed while the app serves (hook files, ``Roost.route``).

The built-in routes are fixed when the app starts. A :class:`RouteGroup` is one entry of that
fixed list whose own routes may change at any time: it matches a request against the routes it
holds at that moment and hands the request to the one that matched. Swapping its routes never
touches a request in flight, which keeps the route object it matched.

The OpenAPI document and the rate limiter look through a group (:func:`expand_routes`), so a
route in a group is documented and limited like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

#: scope key of the route a group matched (read by :meth:`RouteGroup.handle`)
MATCHED_ROUTE = "roost.group_route"


class RouteGroup(BaseRoute):
    """A changeable list of routes, matched in order, served as one entry of the router."""

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        self.routes: tuple[BaseRoute, ...] = tuple(routes)
        #: bumped on every change, so caches built from the routes (the OpenAPI document) renew
        self.version = 0

    def add(self, *routes: BaseRoute) -> None:
        self.replace((), routes)

    def remove(self, *routes: BaseRoute) -> None:
        self.replace(routes, ())

    def replace(self, old: Iterable[BaseRoute], new: Iterable[BaseRoute]) -> None:
        """Remove ``old`` and append ``new`` in one step (requests see either list, never a mix)."""
        gone = {id(route) for route in old}
        self.routes = (*(r for r in self.routes if id(r) not in gone), *new)
        self.version += 1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return Match.FULL, {**child, MATCHED_ROUTE: route}
            if match == Match.PARTIAL and partial is None:
                partial = (route, child)
        if partial is not None:
            return Match.PARTIAL, {**partial[1], MATCHED_ROUTE: partial[0]}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope[MATCHED_ROUTE].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)


def expand_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes with every group replaced by the routes it holds now."""
    for each in routes:
        if isinstance(each, RouteGroup):
            yield from each.routes
        else:
            yield each


def routes_version(routes: Iterable[BaseRoute]) -> int:
    """Changes whenever a group among ``routes`` changes."""
    return sum(each.version for each in routes if isinstance(each, RouteGroup))
