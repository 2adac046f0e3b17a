"""Serving stored files: which record owns a file, and who may read a protected one."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from roost.core.auth import tokens
from roost.core.auth.superuser_ips import SUPERUSERS, superuser_ip_allowed
from roost.core.collections import Collection
from roost.core.errors import BadRequest, NotFound, Unauthorized
from roost.core.events import RequestInfo
from roost.core.files import file_values, record_prefix
from roost.core.records import fetch_record, rule_matches_stored

if TYPE_CHECKING:
    from roost.core.app import App

FILE_NOT_FOUND = "The requested resource wasn't found."


class StoredFile(NamedTuple):
    data: bytes
    #: from a protected field: served to one caller's token, so never to a shared cache
    protected: bool


async def read_file(app: App, coll: Collection, record_id: str, filename: str, file_token: str, ip: str = "") -> StoredFile:
    """The bytes of ``filename`` on a record, checking protected fields against the file token."""
    record = await fetch_record(app, coll, record_id)
    if record is None or filename not in file_values(coll, record):
        raise NotFound(FILE_NOT_FOUND)
    field = next(f for f in coll.fields if f.type == "file" and filename in _names(record.get(f.name)))
    protected = bool(getattr(field, "protected", False))
    if protected:
        await _check_protected(app, coll, record_id, file_token, ip)
    data = await app.storage.get(f"{record_prefix(coll, record_id)}/{filename}")
    if data is None:
        raise NotFound(FILE_NOT_FOUND)
    return StoredFile(data, protected)


async def _check_protected(app: App, coll: Collection, record_id: str, file_token: str, ip: str) -> None:
    info = RequestInfo(context="protectedFile", ip=ip)
    if file_token:
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


def issue_file_token(info: RequestInfo) -> str:
    """A short-lived token that grants the caller's access to protected files."""
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if not info.auth_collection.is_auth:
        raise BadRequest()
    return tokens.issue(info.auth_collection, info.auth, tokens.FILE)


def _names(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []
