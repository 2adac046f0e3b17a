"""File download and file-token routes."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.openapi.operation import Op, param, raw
from roost.apis.openapi.schema import BOOL, STR, obj
from roost.apis.ranges import stream_file
from roost.apis.request import app_of, client_ip_of, parse_go_bool, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.auth.file_access import FILE_NOT_FOUND, issue_file_token, open_file
from roost.core.base import App
from roost.core.errors import NotFound
from roost.core.records.files import HEAD_BYTES, detect_mime

#: PocketBase's caching of public files; a protected file answers one token holder and stays private
PUBLIC_CACHE = "max-age=2592000, stale-while-revalidate=86400"
PRIVATE_CACHE = "private, no-store"

#: types a browser may render inline without risk of script execution
SAFE_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "audio/", "video/")


async def download(request: Request) -> Response:
    app = app_of(request)
    coll = app.collections.get(request.path_params["collection"])
    if coll is None:
        raise NotFound(FILE_NOT_FOUND)
    filename = request.path_params["filename"]
    token = request.query_params.get("token", "")
    thumb = request.query_params.get("thumb", "")
    opened = await open_file(app, coll, request.path_params["record"], filename, token, client_ip_of(request), thumb)
    filename = opened.name or filename
    mime = opened.content_type or mimetypes.guess_type(filename)[0] or detect_mime(await _head(app, opened.key, opened.size))
    attachment = parse_go_bool(request.query_params.get("download")) or not mime.startswith(SAFE_INLINE)
    headers = {
        "Content-Disposition": content_disposition("attachment" if attachment else "inline", filename),
        "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        "Cache-Control": PRIVATE_CACHE if opened.protected else PUBLIC_CACHE,
        "Accept-Ranges": "bytes",
    }
    return stream_file(request, app.storage, opened.key, opened.size, mime, headers)


async def _head(app: App, key: str, size: int) -> bytes:
    """The first bytes of a stored file, enough to recognise its type."""
    if not size:
        return b""
    return b"".join([chunk async for chunk in app.storage.stream(key, 0, min(size, HEAD_BYTES) - 1)])


def content_disposition(kind: str, filename: str) -> str:
    """PocketBase's ``filename="..."`` for plain ASCII names; otherwise an ASCII fallback plus the
    RFC 6266/5987 ``filename*=UTF-8''...`` form (headers are Latin-1 on the wire)."""
    if filename.isascii() and filename.isprintable() and not any(c in filename for c in '"\\'):
        return f'{kind}; filename="{filename}"'
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def file_token(request: Request) -> Response:
    info = await request_info(request)
    return json_response(request, {"token": await issue_file_token(app_of(request), info)})


routes = [
    route("/api/files/token", file_token, ["POST"],
          openapi=Op("Short-lived token for protected files", "files", access="auth", result=obj(("token",), token=STR), errors=(400, 401))),
    route("/api/files/{collection}/{record}/{filename}", download, ["GET", "HEAD"], tags=["file"], openapi={
        "GET": Op("Download a file", "files", errors=(400, 404),
                  responses=raw(200, "The file.", "application/octet-stream", {"type": "string", "format": "binary"}),
                  params=(param("thumb", STR, "Thumb size `WxH[t|b|f]`."), param("download", BOOL, "Send as attachment."),
                          param("token", STR, "File token for protected files."))),
        "HEAD": Op("File headers", "files", errors=(404,), responses=raw(200, "The file's headers.")),
    }),
]  # fmt: skip
