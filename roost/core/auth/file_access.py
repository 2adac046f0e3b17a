"""Serving stored files: which record owns a file, and who may read a protected one.

``on_file_download_request`` fires once access is granted (a handler that returns without
``e.next()`` withholds the file: 404); ``on_file_token_request`` wraps issuing a file token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

from roost.core.auth import api_keys, tokens
from roost.core.auth.superuser_ips import SUPERUSERS, superuser_ip_allowed
from roost.core.errors import BadRequest, NotFound, Unauthorized
from roost.core.events import FileDownloadRequestEvent, FileTokenRequestEvent, RequestInfo
from roost.core.records.access import rule_matches_stored
from roost.core.records.files import file_values, record_prefix
from roost.core.records.save import fetch_record
from roost.core.records.thumbs import find_thumb, thumb_allowed
from roost.core.schema.collection import Collection
from roost.tools.storage import StorageError

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.storage")

FILE_NOT_FOUND = "The requested resource wasn't found."


class OpenedFile(NamedTuple):
    """A file the caller may read: its storage key and size (stream it with ``app.storage.stream``)."""

    key: str
    size: int
    #: from a protected field: served to one caller's token, so never to a shared cache
    protected: bool
    #: the name served (a thumb's ``WxH_<file>``) and, for a thumb, its real type; "" = the file's
    name: str = ""
    content_type: str = ""


async def open_file(
    app: App, coll: Collection, record_id: str, filename: str, file_token: str, ip: str = "", thumb: str = ""
) -> OpenedFile:
    """Where ``filename`` on a record is stored, checking protected fields against the file token.

    ``thumb`` (``?thumb=``) serves that thumb of an image when the field lists the size; an
    unlisted size, a file that is not an image, or a thumb that cannot be made serves the original.
    """
    record = await fetch_record(app, coll, record_id)
    if record is None or filename not in file_values(coll, record):
        raise NotFound(FILE_NOT_FOUND)
    field = next(f for f in coll.fields if f.type == "file" and filename in _names(record.get(f.name)))
    protected = bool(getattr(field, "protected", False))
    if protected:
        await _check_protected(app, coll, record_id, file_token, ip)
    thumb_file = await find_thumb(app, coll, record_id, filename, thumb) if thumb_allowed(field, thumb) else None
    hook = app.hooks.on_file_download_request
    if hook.handlers:
        served: list[bool] = []

        async def serve(event: FileDownloadRequestEvent) -> None:
            served.append(True)

        info = RequestInfo(context="protectedFile" if protected else "default", ip=ip)
        served_name = thumb_file.name if thumb_file else filename
        event = FileDownloadRequestEvent(app=app, info=info, collection=coll, record=record, field_name=field.name, served_name=served_name)
        await hook.trigger(event, serve)
        if not served:
            raise NotFound(FILE_NOT_FOUND)
    if thumb_file is not None:
        return OpenedFile(thumb_file.key, len(thumb_file.data), protected, thumb_file.name, thumb_file.content_type)
    key = f"{record_prefix(coll, record_id)}/{filename}"
    try:
        size = await app.storage.size(key)
    except StorageError as exc:
        log.warning("file %s unreadable: %s", key, exc)
        size = None
    if size is None:
        raise NotFound(FILE_NOT_FOUND)
    return OpenedFile(key, size, protected)


async def _check_protected(app: App, coll: Collection, record_id: str, file_token: str, ip: str) -> None:
    info = RequestInfo(context="protectedFile", ip=ip)
    if file_token and "apiKey" in (tokens.unverified_claims(file_token) or {}):
        # a key's file token opens files of the collections its scopes let it view, rule permitting
        if not await api_keys.verify_file_token(app, file_token, coll, info):
            raise NotFound(FILE_NOT_FOUND)
    elif file_token:
        found = await tokens.verify(app, file_token, tokens.FILE)
        # a superuser's token from an address off the superuserIPs list counts as none (PocketBase)
        if found is not None and (found[0].name != SUPERUSERS or superuser_ip_allowed(app, ip)):
            info.auth_collection, info.auth, _ = found
    if info.is_superuser:
        return
    # no token is a guest: the viewRule decides, as for viewing the record (PocketBase serves a
    # protected file of a publicly viewable record without a token)
    rule = coll.rule("viewRule")
    if rule is None:
        raise NotFound(FILE_NOT_FOUND)
    if rule and not await rule_matches_stored(app, coll, record_id, rule, info):
        raise NotFound(FILE_NOT_FOUND)


async def issue_file_token(app: App, info: RequestInfo) -> str:
    """A short-lived token that grants the caller's access to protected files."""
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if info.api_key is not None:
        token = await api_keys.issue_file_token(app, info.api_key)
    elif not info.auth_collection.is_auth:
        raise BadRequest()
    else:
        token = tokens.issue(info.auth_collection, info.auth, tokens.FILE)
    event = FileTokenRequestEvent(app=app, info=info, token=token)
    await app.hooks.on_file_token_request.trigger(event)
    return event.token


def _names(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []
