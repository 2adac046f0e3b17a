"""Backups routes: superusers only; the download authorises with a superuser file token."""

from __future__ import annotations

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from roost.apis.files import content_disposition
from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op, raw
from roost.apis.openapi.schema import INT, STR, arr, obj
from roost.apis.ranges import stream_file
from roost.apis.request import app_of, client_ip_of, read_form
from roost.apis.responses import json_response
from roost.apis.routing import route
from roost.core.auth import tokens
from roost.core.auth.superuser_ips import SUPERUSERS, superuser_ip_allowed
from roost.core.errors import BadRequest, Forbidden, NotFound

_FORBIDDEN = "Insufficient permissions to access the resource."
#: uploads have no body limit (as PocketBase): the archive is spooled to disk, never held whole
_NO_LIMIT = 1 << 62


async def list_backups(request: Request) -> Response:
    await require_superuser(request)
    return json_response(request, await app_of(request).backups.entries())


async def create_backup(request: Request) -> Response:
    await require_superuser(request)
    backups = app_of(request).backups
    if not backups.can_backup:
        raise BadRequest("Try again later - another backup/restore process has already been started")
    raw_body = await request.body()
    try:
        body = orjson.loads(raw_body) if raw_body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest("An error occurred while loading the submitted data.") from exc
    if not isinstance(body, dict):
        raise BadRequest("An error occurred while loading the submitted data.")
    name = await backups.check_name(body.get("name"))
    await backups.create(name)
    return Response(status_code=204)


async def upload_backup(request: Request) -> Response:
    await require_superuser(request)
    upload = None
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await read_form(request)
        upload = next((v for v in form.getlist("file") if isinstance(v, UploadFile)), None)
    await app_of(request).backups.upload(upload.filename or "" if upload else "", upload.file if upload else None)
    return Response(status_code=204)


async def download_backup(request: Request) -> Response:
    app = app_of(request)
    found = await tokens.verify(app, request.query_params.get("token", ""), tokens.FILE)
    if found is None or found[0].name != SUPERUSERS or not superuser_ip_allowed(app, client_ip_of(request)):
        raise Forbidden(_FORBIDDEN)
    key = request.path_params["key"]
    size = await app.backups.size(key)
    if size is None:
        raise NotFound("The requested resource wasn't found.")
    headers = {
        "Content-Disposition": content_disposition("attachment", key.rsplit("/", 1)[-1]),
        "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        "Accept-Ranges": "bytes",
    }
    return stream_file(request, app.backups, key, size, "application/zip", headers)


async def delete_backup(request: Request) -> Response:
    await require_superuser(request)
    await app_of(request).backups.delete(request.path_params["key"])
    return Response(status_code=204)


async def restore_backup(request: Request) -> Response:
    await require_superuser(request)
    backups = app_of(request).backups
    key = request.path_params["key"]
    await backups.check_restorable(key)
    await backups.restore(key)
    return Response(status_code=204)


_BACKUP = obj(("key", "size", "modified"), key=STR, size=INT, modified=STR)
_SU = "superuser"
_DONE = raw(204, "Done.")
routes = [
    route("/api/backups", list_backups, ["GET"],
          openapi=Op("List backups", "backups", access=_SU, result=arr(_BACKUP), errors=(400, 401, 403))),
    route("/api/backups", create_backup, ["POST"],
          openapi=Op("Create a backup", "backups", access=_SU, body=obj(name=STR), responses=_DONE, errors=(400, 401, 403))),
    route("/api/backups/upload", upload_backup, ["POST"], body_limit=_NO_LIMIT,
          openapi=Op("Upload a backup archive", "backups", access=_SU, responses=_DONE, errors=(400, 401, 403))),
    route("/api/backups/{key}", download_backup, ["GET"],
          openapi=Op("Download a backup (?token= superuser file token)", "backups", errors=(403, 404),
                     responses=raw(200, "The archive.", "application/zip", {"type": "string", "format": "binary"}))),
    route("/api/backups/{key}", delete_backup, ["DELETE"],
          openapi=Op("Delete a backup", "backups", access=_SU, responses=_DONE, errors=(400, 401, 403))),
    route("/api/backups/{key}/restore", restore_backup, ["POST"],
          openapi=Op("Restore a backup", "backups", access=_SU, responses=_DONE, errors=(400, 401, 403))),
]  # fmt: skip
