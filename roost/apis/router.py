"""The routes and middleware an app will serve, open to ``on_serve`` handlers until it starts.

``e.router`` of the ``on_serve`` hook is a :class:`Router`. Plugin routes come after Roost's own
(a built-in route wins a clash) and before the 404 catch-all; plugin middleware runs after the
rate limiter, in the order it was added, just before the router.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from roost.apis import api_routes, build_asgi
from roost.apis.route_group import RouteGroup
from roost.apis.routing import route, websocket_route
from roost.core.app import App


class Router:
    """Collects routes and middleware, then builds the ASGI app once (:meth:`build`)."""

    def __init__(self, routes: Iterable[BaseRoute] | None = None) -> None:
        self.routes: list[BaseRoute] = list(api_routes() if routes is None else routes)
        self.middleware: list[Middleware] = []
        self._built = False

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str],
        *,
        openapi: Any = None,
        tags: Iterable[str] = (),
        body_limit: int | None = None,
        name: str | None = None,
    ) -> None:
        """Serve ``endpoint`` (a Starlette endpoint) with the metadata of :func:`roost.apis.routing.route`."""
        self._open()
        self.routes.append(
            route(
                path,
                endpoint,
                list(methods),
                openapi=openapi,
                tags=tags,
                body_limit=body_limit,
                name=name,
            )
        )

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        openapi: Any = None,
        name: str | None = None,
    ) -> None:
        self._open()
        self.routes.append(websocket_route(path, endpoint, openapi=openapi, name=name))

    def add_route_group(self, group: RouteGroup) -> None:
        """Serve the routes ``group`` holds at each request; they may change while the app serves."""
        self._open()
        self.routes.append(group)

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        """Serve another ASGI app (a FastAPI or Starlette app) under ``path``."""
        self._open()
        self.routes.append(Mount(path, app=app, name=name))

    def add_middleware(self, cls: Any, *args: Any, **kwargs: Any) -> None:
        """Wrap the router in ``cls(app, *args, **kwargs)`` (an ASGI middleware class)."""
        self._open()
        self.middleware.append(Middleware(cls, *args, **kwargs))

    def build(self, app: App) -> ASGIApp:
        """The ASGI app serving what was added; nothing can be added afterwards."""
        self._built = True
        return build_asgi(app, self.routes, self.middleware)

    def _open(self) -> None:
        if self._built:
            raise RuntimeError(
                "the app already serves: add routes and middleware before e.next() in on_serve"
            )
