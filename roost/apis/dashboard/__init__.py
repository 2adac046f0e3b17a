"""The admin dashboard at ``/_/``: the built single-page app shipped inside the package.

The front-end source lives in ``dashboard/`` at the repository root; ``npm run build`` there
writes into ``www/`` beside this module, and those files are committed, so installing or running
Roost never needs Node.js or the network. The dashboard is a client of the public API only.

Every ``/_/`` path that is not a built file gets ``index.html``, so a deep link or a reload on a
client route opens the app there. Hashed files under ``assets/`` never change and are cached
for a year; ``index.html`` is revalidated on each load so a new release shows at once.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.apis.errors import json_error

WWW = Path(__file__).resolve().parent / "www"
INDEX = WWW / "index.html"
#: the page loads only its own files and talks only to its own origin
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _served(relative: str) -> Path | None:
    """The built file at ``relative`` inside ``www/``, or None (never a path outside it)."""
    if not relative or relative.endswith("/"):
        return None
    candidate = (WWW / relative).resolve()
    if not candidate.is_relative_to(WWW) or not candidate.is_file():
        return None
    return candidate


def _file(path: Path, cache: str) -> Response:
    media_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache, "Content-Security-Policy": CSP, "Referrer-Policy": "same-origin"}
    return FileResponse(path, media_type=media_type, headers=headers)


def _index() -> Response:
    if not INDEX.is_file():
        return json_error(404, "The dashboard is not built into this installation.")
    return _file(INDEX, REVALIDATE)


async def page(request: Request) -> Response:
    relative = str(request.path_params.get("path", ""))
    found = _served(relative)
    if found is not None and found != INDEX:
        return _file(found, IMMUTABLE if relative.startswith("assets/") else REVALIDATE)
    if relative.startswith("assets/"):
        return json_error(404, "File not found.")
    return _index()


async def bare(request: Request) -> Response:
    return RedirectResponse("/_/", status_code=301)


routes: list[BaseRoute] = [
    Route("/_", bare, methods=["GET", "HEAD"]),
    Route("/_/{path:path}", page, methods=["GET", "HEAD"]),
]
