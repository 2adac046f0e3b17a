"""The router's table: a request is matched only against the routes its path's shape allows.

Starlette's router tries every route in order until one matches, a regular expression each: a
record request was tried against about forty routes. A route template fixes how a matching path
starts (its leading literal segments, ``/api/collections``) and, unless a parameter may hold a
``/`` (``{path:path}``, a mount), how many segments it has (a record's five).
:class:`IndexedRouter` files every route under both, once, and a request is tried against the
routes filed under its own first two segments and segment count, plus those that may match any
path, in their declared order. The route that answers is the one the full scan would find:
every route that could match is among those tried, and in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

#: the matching of a route by its path template (a subclass may keep it or bring its own)
_PATH_MATCHES = (Route.matches, WebSocketRoute.matches, Mount.matches)
#: parameter types that never hold a "/" (Starlette's own, but ``path``)
_ONE_SEGMENT = ("", "str", "int", "float", "uuid")
#: stands for a segment that no template names at its place
_OTHER = "\0"
#: keys remembered at most: enough for every route of an app, while paths a client makes up
#: (every combination of the templates' segments) cannot grow the table without bound
MAX_KEYS = 4096
#: a request path's key: each segment, or _OTHER where no template names it; and how many
#: segments there are (0: more than any template has)
Key = tuple[tuple[str, ...], int]
#: paths remembered at most before the memory of them starts over
MAX_PATHS = 1024


class Shape:
    """What a route template fixes about a matching path.

    ``segments``: each literal segment, None for a parameter, when the number of segments is
    fixed; ``head``: otherwise (a mount, a ``path`` parameter) its first two literal segments;
    ``any_path``: a route matched by other means than its template (a route group).
    """

    __slots__ = ("any_path", "head", "segments")

    def __init__(self, each: BaseRoute) -> None:
        self.segments: tuple[str | None, ...] | None = None
        self.head: tuple[str, ...] = ()
        self.any_path = True
        path = getattr(each, "path", None)
        if type(each).matches not in _PATH_MATCHES or not isinstance(path, str) or not path.startswith("/"):
            return
        self.any_path = False
        parts = path[1:].split("/")
        literal = [None if "{" in part else part for part in parts]
        if not isinstance(each, Mount) and all(_one_segment(part) for part in parts):
            self.segments = tuple(literal)
            return
        for part in literal[:2]:
            if part is None:
                break
            self.head += (part,)

    def literals(self) -> list[tuple[int, str]]:
        named = enumerate(self.segments) if self.segments is not None else enumerate(self.head)
        return [(place, part) for place, part in named if part is not None]

    def admits(self, key: Key) -> bool:
        """Could a path with this key match the route?"""
        tokens, count = key
        if self.any_path:
            return True
        if self.segments is None:
            return len(tokens) >= len(self.head) and all(tokens[i] == part for i, part in enumerate(self.head))
        if count != len(self.segments):
            return False
        return all(part is None or tokens[i] == part for i, part in enumerate(self.segments))


def _one_segment(part: str) -> bool:
    """A literal segment, or one parameter whose values hold no "/"."""
    if "{" not in part:
        return True
    if not (part.startswith("{") and part.endswith("}") and part.count("{") == 1):
        return False
    return part[1:-1].partition(":")[2] in _ONE_SEGMENT


class IndexedRouter(Router):
    """A Starlette router that tries only the routes a request's path can match."""

    _shapes: list[tuple[BaseRoute, Shape]] | None = None
    _built_for: tuple[int, int] = (0, 0)
    _table: dict[Key, tuple[BaseRoute, ...]]
    #: the routes for the paths met lately (most requests repeat a path: /api/health, a list)
    _paths: dict[str, tuple[BaseRoute, ...]]
    #: the literal segments the templates name at each place
    _known: list[frozenset[str]]

    def candidates(self, scope: Scope) -> tuple[BaseRoute, ...]:
        """The routes that could match this request's path, in their declared order."""
        routes: Sequence[BaseRoute] = self.routes
        if self._shapes is None or self._built_for != (id(routes), len(routes)):
            self._index(routes)
        path = get_route_path(scope)
        found = self._paths.get(path)
        if found is not None:
            return found
        assert self._shapes is not None
        key = self._key(path)
        found = self._table.get(key)
        if found is None:
            found = tuple(each for each, shape in self._shapes if shape.admits(key))
            if len(self._table) < MAX_KEYS:
                self._table[key] = found
        if len(self._paths) >= MAX_PATHS:  # paths with ids in them come and go
            self._paths.clear()
        self._paths[path] = found
        return found

    def _index(self, routes: Sequence[BaseRoute]) -> None:
        self._shapes = [(each, Shape(each)) for each in routes]
        longest = max((len(s.segments) for _, s in self._shapes if s.segments is not None), default=0)
        known: list[set[str]] = [set() for _ in range(max(longest, 2))]
        for _, shape in self._shapes:
            for place, part in shape.literals():
                known[place].add(part)
        self._known = [frozenset(each) for each in known]
        self._built_for, self._table, self._paths = (id(routes), len(routes)), {}, {}

    def _key(self, path: str) -> Key:
        known = self._known
        parts = path[1:].split("/", len(known))
        tokens = tuple([part if part in names else _OTHER for part, names in zip(parts, known, strict=False)])
        return tokens, len(parts) if len(parts) <= len(known) else 0

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        found = first_match(self.candidates(scope), scope)
        if found is None:
            await super().app(scope, receive, send)  # no route at all: the redirect or the default
            return
        route, child = found
        scope["route"] = route
        scope.update(child)
        await route.handle(scope, receive, send)


def routes_to_try(router: Router, scope: Scope) -> Sequence[BaseRoute]:
    """The routes of ``router`` that could match ``scope``, in order (for layers that look up a
    request's route before the router does)."""
    return router.candidates(scope) if isinstance(router, IndexedRouter) else router.routes


def first_match(routes: Sequence[BaseRoute], scope: Scope) -> tuple[BaseRoute, Scope] | None:
    """The route that serves ``scope`` and its child scope: the first full match, else the first
    partial one (a path whose method the route does not take: 405), else None."""
    partial: tuple[BaseRoute, Scope] | None = None
    for each in routes:
        match, child = each.matches(scope)
        if match is Match.FULL:
            return each, child
        if match is Match.PARTIAL and partial is None:
            partial = (each, child)
    return partial
