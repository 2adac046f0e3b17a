"""Static files: the ``--publicDir`` directory served at ``/``, as PocketBase serves ``pb_public``.

A request for ``/path`` answers the file ``<publicDir>/path`` (``index.html`` for a directory),
with its Content-Type, an ETag and Last-Modified (a matching ``If-None-Match`` or
``If-Modified-Since`` answers 304), ``Cache-Control: no-cache`` (browsers keep the file and
revalidate it on each use, so a deploy is seen at once), HEAD and byte ranges.

With ``--indexFallback`` (on by default, as in PocketBase) a path with no file behind it and no
extension in its last segment answers ``<publicDir>/index.html``, for single-page apps whose router
owns those URLs; a missing ``/app.js`` stays a 404. The 404 is PocketBase's
``{"status": 404, "message": "File not found.", "data": {}}``.

The route comes after every built-in and plugin route, and never answers under ``/api/`` or
``/_/``: those paths keep Roost's own answers. Nothing outside the directory is reachable: ``..``
segments (also percent-encoded), NUL bytes and backslashes are refused, and the resolved path,
symlinks followed, must stay inside the directory.
"""

from __future__ import annotations

import os
import stat
from email.utils import parsedate_to_datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from roost.apis.errors import CATCH_ALL
from roost.apis.routing import route_path
from roost.core.base import App
from roost.core.events import ServeEvent

#: paths that belong to Roost itself, whatever the public directory holds
RESERVED = ("/api", "/_")
CACHE_CONTROL = "no-cache"
INDEX = "index.html"


def default_public_dir(data_dir: Path) -> Path:
    """``<data_dir>/../roost_public``, as PocketBase's ``pb_public`` sits next to ``pb_data``."""
    return Path(data_dir).absolute().parent / "roost_public"


class PublicDir:
    """The built-in plugin that serves the public directory (see the module docstring)."""

    def register(self, app: App) -> None:
        app.hooks.on_serve.bind(self._add_route, id="roost.public_dir", priority=1000)

    def commands(self) -> tuple[()]:
        return ()

    async def _add_route(self, e: ServeEvent) -> None:
        config = e.app.config
        folder = getattr(config, "public_dir", None) or default_public_dir(config.data_dir)
        fallback = bool(getattr(config, "index_fallback", True))
        files = StaticFiles(Path(folder), index_fallback=fallback)
        e.router.add_route("/{path:path}", files.handle, ["GET", "HEAD"])
        await e.next()


class StaticFiles:
    """The endpoint: one file of ``root`` per request, or the 404 answer."""

    def __init__(self, root: Path, *, index_fallback: bool) -> None:
        self.root = root
        self.index_fallback = index_fallback

    async def handle(self, request: Request) -> Response:
        url_path = route_path(request.scope) or "/"
        if _reserved(url_path):
            return await _not_found(request)
        relative = request.path_params.get("path", "")
        if not _clean(relative):
            return await _not_found(request)
        found = self._lookup(relative)
        if found is None:
            return await _not_found(request)
        path, result = found
        if stat.S_ISDIR(result.st_mode):
            if not url_path.endswith(
                "/"
            ):  # relative links in the directory's index.html need the slash
                query = request.url.query
                return RedirectResponse(
                    url_path + "/" + (f"?{query}" if query else ""), status_code=301
                )
            found = self._lookup(f"{relative.rstrip('/')}/{INDEX}".lstrip("/"))
            if found is None:
                return await _not_found(request)
            path, result = found
        return _file(request, path, result)

    def _lookup(self, relative: str) -> tuple[Path, os.stat_result] | None:
        """The file (or directory) for ``relative``, falling back to index.html when allowed."""
        hit = self._safe_stat(relative)
        if hit is not None:
            return hit
        last = relative.rstrip("/").rsplit("/", 1)[-1]
        if self.index_fallback and "." not in last:
            index = self._safe_stat(INDEX)
            if index is not None and stat.S_ISREG(index[1].st_mode):
                return index
        return None

    def _safe_stat(self, relative: str) -> tuple[Path, os.stat_result] | None:
        """``root/relative`` when it exists inside ``root`` (symlinks resolved), else None."""
        parts = [p for p in relative.split("/") if p not in ("", ".")]
        if not _clean(relative):
            return None
        try:
            root = self.root.resolve(strict=True)
            path = root.joinpath(*parts).resolve(strict=True)
            if path != root and not path.is_relative_to(root):
                return None
            result = path.stat()
        except (OSError, ValueError, RuntimeError):
            return None
        if not (stat.S_ISREG(result.st_mode) or stat.S_ISDIR(result.st_mode)):
            return None  # sockets, devices, FIFOs
        if stat.S_ISREG(result.st_mode) and not os.access(path, os.R_OK):
            return None  # an unreadable file is a 404, not a failure halfway through the answer
        return path, result


def _clean(relative: str) -> bool:
    """No ``..`` segment, NUL byte or backslash (the path is already percent-decoded)."""
    return "\x00" not in relative and "\\" not in relative and ".." not in relative.split("/")


def _reserved(url_path: str) -> bool:
    return any(url_path == prefix or url_path.startswith(prefix + "/") for prefix in RESERVED)


def _file(request: Request, path: Path, result: os.stat_result) -> Response:
    response = FileResponse(path, stat_result=result, headers={"Cache-Control": CACHE_CONTROL})
    if _not_modified(request, response):
        headers = {
            k: v
            for k, v in response.headers.items()
            if k in ("etag", "last-modified", "cache-control")
        }
        return Response(status_code=304, headers=headers)
    return response


def _not_modified(request: Request, response: Response) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since; weak comparison for ETags."""
    etag = response.headers.get("etag", "")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    modified = response.headers.get("last-modified")
    if not since or not modified:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


async def _not_found(request: Request) -> Response:
    """Roost's own 404 (PocketBase's "File not found." for a GET; the "resource" wording when
    another route serves the path with other methods)."""
    return await CATCH_ALL.endpoint(request)  # type: ignore[attr-defined, no-any-return]
