"""File download and file-token routes."""

from __future__ import annotations

import mimetypes

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.apis.request import app_of, client_ip_of, parse_go_bool, request_info
from roost.apis.responses import json_response
from roost.core.errors import NotFound
from roost.core.file_access import FILE_NOT_FOUND, issue_file_token, read_file
from roost.core.files import detect_mime

#: types a browser may render inline without risk of script execution
SAFE_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "audio/", "video/")


async def download(request: Request) -> Response:
    app = app_of(request)
    coll = app.collections.get(request.path_params["collection"])
    if coll is None:
        raise NotFound(FILE_NOT_FOUND)
    filename = request.path_params["filename"]
    token = request.query_params.get("token", "")
    data = await read_file(app, coll, request.path_params["record"], filename, token, client_ip_of(request))
    mime = mimetypes.guess_type(filename)[0] or detect_mime(data)
    attachment = parse_go_bool(request.query_params.get("download")) or not mime.startswith(SAFE_INLINE)
    headers = {
        "Content-Disposition": f'{"attachment" if attachment else "inline"}; filename="{filename}"',
        "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        "Cache-Control": "max-age=2592000, stale-while-revalidate=86400",
    }
    return Response(data, media_type=mime, headers=headers)


async def file_token(request: Request) -> Response:
    info = await request_info(request)
    return json_response(request, {"token": issue_file_token(info)})


routes = [
    Route("/api/files/token", file_token, methods=["POST"]),
    Route("/api/files/{collection}/{record}/{filename}", download, methods=["GET", "HEAD"]),
]
