"""File download and file-token routes."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.request import app_of, client_ip_of, parse_go_bool, request_info
from roost.apis.responses import json_response
from roost.core.errors import NotFound
from roost.core.file_access import FILE_NOT_FOUND, issue_file_token, read_file
from roost.core.files import detect_mime

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
    data, protected = await read_file(app, coll, request.path_params["record"], filename, token, client_ip_of(request))
    mime = mimetypes.guess_type(filename)[0] or detect_mime(data)
    attachment = parse_go_bool(request.query_params.get("download")) or not mime.startswith(SAFE_INLINE)
    headers = {
        "Content-Disposition": content_disposition("attachment" if attachment else "inline", filename),
        "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        "Cache-Control": PRIVATE_CACHE if protected else PUBLIC_CACHE,
    }
    return Response(data, media_type=mime, headers=headers)


def content_disposition(kind: str, filename: str) -> str:
    """PocketBase's ``filename="..."`` for plain ASCII names; otherwise an ASCII fallback plus the
    RFC 6266/5987 ``filename*=UTF-8''...`` form (headers are Latin-1 on the wire)."""
    if filename.isascii() and filename.isprintable() and not any(c in filename for c in '"\\'):
        return f'{kind}; filename="{filename}"'
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def file_token(request: Request) -> Response:
    info = await request_info(request)
    return json_response(request, {"token": issue_file_token(info)})


routes = [
    Route("/api/files/token", file_token, methods=["POST"]),
    Route("/api/files/{collection}/{record}/{filename}", download, methods=["GET", "HEAD"]),
]
