"""The router tries only the routes a path's shape allows, and answers as a full scan would."""

from __future__ import annotations

import random

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from roost.apis import api_routes
from roost.apis.errors import CATCH_ALL
from roost.apis.route_group import RouteGroup
from roost.apis.route_index import MAX_KEYS, MAX_PATHS, IndexedRouter


def _first(routes: tuple[BaseRoute, ...] | list[BaseRoute], scope: dict[str, object]) -> tuple[BaseRoute | None, str]:
    """What Starlette's full scan picks: the first full match, else the first partial one."""
    partial = None
    for each in routes:
        match, _ = each.matches(scope)
        if match is Match.FULL:
            return each, "full"
        if match is Match.PARTIAL and partial is None:
            partial = each
    return partial, "partial"


def _scope(path: str, method: str = "GET", kind: str = "http") -> dict[str, object]:
    return {"type": kind, "path": path, "method": method, "root_path": "", "headers": []}


async def _ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_every_path_is_matched_to_the_route_a_full_scan_finds() -> None:
    routes = [*api_routes(), CATCH_ALL]
    router = IndexedRouter(routes=routes)
    pieces = sorted({part for each in routes for part in getattr(each, "path", "").split("/")} | {"x", "", "a.b", "\0"})
    rng = random.Random(7)
    for _ in range(20_000):
        path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        if rng.random() < 0.3:
            path = path.replace("{", "").replace("}", "")  # template pieces as literal values
        scope = _scope(path, rng.choice(["GET", "POST", "PATCH", "DELETE", "HEAD", "PUT"]), rng.choice(["http", "websocket"]))
        assert _first(router.candidates(scope), scope) == _first(routes, scope), path
    view = _scope("/api/collections/posts/records/abc")
    assert len(router.candidates(view)) < len(routes) // 5  # the point of it


def test_routes_added_later_and_route_groups_are_tried() -> None:
    group = RouteGroup()
    routes: list[BaseRoute] = [Route("/api/health", _ok), group, CATCH_ALL]
    router = IndexedRouter(routes=routes)
    hook_route = Route("/api/hello/{name}", _ok)
    assert _first(router.candidates(_scope("/api/hello/x")), _scope("/api/hello/x"))[0] is CATCH_ALL
    group.add(hook_route)  # a route group changes while the app serves
    assert _first(router.candidates(_scope("/api/hello/x")), _scope("/api/hello/x"))[0] is group
    mounted = Mount("/tools", app=_ok)
    router.routes.insert(0, mounted)
    assert _first(router.candidates(_scope("/tools/a/b/c/d/e/f/g")), _scope("/tools/a/b/c/d/e/f/g"))[0] is mounted
    options = _scope("/api/health", "OPTIONS")  # a method no route takes: the first partial match
    assert _first(router.candidates(options), options) == (router.routes[1], "partial")


def test_made_up_paths_do_not_grow_the_tables_without_bound() -> None:
    routes = [*api_routes(), CATCH_ALL]
    router = IndexedRouter(routes=routes)
    pieces = sorted({part for each in routes for part in getattr(each, "path", "").split("/") if "{" not in part})
    rng = random.Random(3)
    for n in range(30_000):
        path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 7))) + f"/{n}"
        router.candidates(_scope(path))
    assert len(router._table) <= MAX_KEYS and len(router._paths) <= MAX_PATHS
    view = _scope("/api/collections/posts/records/abc")
    assert _first(router.candidates(view), view) == _first(routes, view)
