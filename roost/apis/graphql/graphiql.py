"""The GraphiQL page: ``GET /api/graphql`` from a browser, and its vendored assets.

The page and its assets are package data (``static/``, refreshed by ``tools/refresh_graphiql.py``),
so nothing is fetched from a CDN. The page holds no data: it asks for a superuser's token (a
login form, or a pasted token, kept in ``localStorage``), checks it with the superusers'
``auth-refresh`` and only then shows the editor, whose requests carry that token. A strict
Content-Security-Policy keeps the page to its own scripts and to ``/api``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response

from roost.core.errors import NotFound

#: the files the page loads, and their content types
ASSETS = {
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _read(name: str) -> bytes:
    return files("roost.apis.graphql").joinpath("static", name).read_bytes()


def wants_page(request: Request) -> bool:
    """A browser's GET with no query: its Accept header ranks ``text/html`` above JSON."""
    if request.method != "GET" or "query" in request.query_params:
        return False
    ranks: dict[str, float] = {}
    for item in request.headers.get("accept", "").split(","):
        media, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranks[media.strip().lower()] = max(q, ranks.get(media.strip().lower(), 0.0))
    html = ranks.get("text/html", 0.0)
    json = max(ranks.get("application/json", 0.0), ranks.get("application/graphql-response+json", 0.0))
    return html > 0 and html > json


def page() -> Response:
    headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"}
    return Response(_read("page.html"), media_type="text/html; charset=utf-8", headers=headers)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    kind = ASSETS.get(name)
    if kind is None:
        raise NotFound()
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_read(name), headers=headers, media_type=kind)
