"""Declaring a route together with what the rest of the stack needs to know about it.

A route carries its own metadata: the OpenAPI operation of each method, the rate-limit tags
PocketBase gives it (``list``, ``authWithPassword`` ...) and an optional body limit. The OpenAPI
document and the rate limiter read them back from the router, so there is no second table keyed
by path to keep in step, and a plugin route is documented and limited like a built-in one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from roost.apis.openapi.operation import Op
from roost.apis.route_group import expand_routes

#: scope key of this request's body limit in bytes, read by the edge middleware on every chunk
BODY_LIMIT = "roost.body_limit"


@dataclass(frozen=True)
class RouteMeta:
    """What a route declares besides its path, methods and endpoint."""

    #: method -> its OpenAPI operation; a method missing here is left out of the document
    ops: Mapping[str, Op]
    #: rate-limit tags of a collection route, whose first path parameter names the collection
    #: (looked up as ``<collection>:<tag>`` and ``*:<tag>``)
    tags: tuple[str, ...] = ()
    #: bytes this route accepts in a request body, instead of the server-wide limit
    body_limit: int | None = None


class RoostRoute(Route):
    """A Starlette route with :class:`RouteMeta`; applies its body limit before the endpoint runs.

    An async endpoint is called directly, not through Starlette's per-request wrapper (a closure
    and a ``send`` wrapper per request): an exception it raises goes to the handler the HTTP edge
    put in the scope, as the wrapper would send it, and anything else raised, or raised while the
    response is sent, goes on to the edge (:class:`roost.apis.middleware.stack.HttpEdge`).
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str],
        meta: RouteMeta,
        name: str | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=list(methods), name=name)
        self.meta = meta
        self._direct = inspect.iscoroutinefunction(endpoint)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.meta.body_limit is not None:
            scope[BODY_LIMIT] = self.meta.body_limit
        if not self._direct or (self.methods and scope["method"] not in self.methods):
            await super().handle(scope, receive, send)  # a sync endpoint, or the 405
            return
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _handler_for(scope, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # a reused exception instance would pile up tracebacks
        await response(scope, receive, send)


def _handler_for(scope: Scope, exc: Exception) -> Any:
    """The exception handler the scope names for ``exc`` (its own class or a base), else None."""
    pair: tuple[dict[Any, Any], dict[int, Any]] | None = scope.get("starlette.exception_handlers")
    handlers = pair[0] if pair is not None else {}
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


class RoostWebSocketRoute(WebSocketRoute):
    """A WebSocket route with :class:`RouteMeta` (documented as its ``GET`` upgrade)."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, meta: RouteMeta, name: str | None = None
    ) -> None:
        super().__init__(path, endpoint, name=name)
        self.meta = meta


def route(
    path: str,
    endpoint: Callable[..., Any],
    methods: Sequence[str],
    *,
    openapi: Op | Mapping[str, Op] | None = None,
    tags: Iterable[str] = (),
    body_limit: int | None = None,
    name: str | None = None,
) -> RoostRoute:
    """An HTTP route; ``openapi`` is one operation for every method, or one per method."""
    ops = _ops(openapi, methods)
    return RoostRoute(
        path, endpoint, methods=methods, meta=RouteMeta(ops, tuple(tags), body_limit), name=name
    )


def websocket_route(
    path: str, endpoint: Callable[..., Any], *, openapi: Op | None = None, name: str | None = None
) -> RoostWebSocketRoute:
    """A WebSocket route."""
    return RoostWebSocketRoute(path, endpoint, meta=RouteMeta(_ops(openapi, ["GET"])), name=name)


def route_path(scope: Scope) -> str:
    """The request path below the mount point (``/api/health`` for ``/pb/api/health`` when Roost is
    mounted at ``/pb``): what routes and rate-limit rules are written against."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def meta_of(route: BaseRoute) -> RouteMeta | None:
    """The metadata of a route declared here (None for a plain Starlette route or mount)."""
    meta = getattr(route, "meta", None)
    return meta if isinstance(meta, RouteMeta) else None


def operations(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], Op]:
    """``(method, path) -> Op`` of every documented route, in route order."""
    table: dict[tuple[str, str], Op] = {}
    for each in expand_routes(routes):
        meta = meta_of(each)
        if meta is not None:
            for method, op in meta.ops.items():
                table.setdefault((method, getattr(each, "path", "")), op)
    return table


def _ops(openapi: Op | Mapping[str, Op] | None, methods: Sequence[str]) -> dict[str, Op]:
    if openapi is None:
        return {}
    if isinstance(openapi, Op):
        return {method: openapi for method in methods}
    unknown = set(openapi) - set(methods)
    if unknown:
        raise ValueError(f"openapi names methods the route does not serve: {sorted(unknown)}")
    return dict(openapi)
