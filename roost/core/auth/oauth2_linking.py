"""Which record an OAuth2 login belongs to, and the writes that bind it: a sign-up at the
request level (the createRule applies), Roost's own writes at the model level.

Order: the record already linked to (provider, provider user id), then the record the caller is
signed in as, then the record holding the provider's *verified* e-mail; otherwise a new record.
Providers hand over an e-mail only when they vouch for it (see :class:`AuthUser`), so an
unverified provider address never reaches an existing account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.auth.oauth2_runtime import runtime
from roost.core.db.facade import quote_ident
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.records import requests, save
from roost.core.records.codec import Record, codec_for
from roost.core.records.files import Upload
from roost.core.schema.collection import Collection
from roost.core.schema.fields import ValidationContext
from roost.tools.oauth2.providers.base import AuthUser

if TYPE_CHECKING:
    from roost.core.base import App

EXTERNAL_AUTHS = "_externalAuths"


@dataclass
class Link:
    """The outcome of linking: the record, whether it is new, and the provider link row."""

    record: Record
    is_new: bool


async def find_external_auth(
    app: App, coll: Collection, provider: str, provider_id: str
) -> Record | None:
    ext = _external_auths(app)
    codec = codec_for(ext, app.dialect)
    row = await app.db.fetch_one(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE "_r"."collectionRef" = :c '
        'AND "_r"."provider" = :p AND "_r"."providerId" = :i LIMIT 1',
        {"c": coll.id, "p": provider, "i": provider_id},
    )
    return codec.decode(row) if row else None


async def find_by_email(app: App, coll: Collection, email: str) -> Record | None:
    codec = codec_for(coll, app.dialect)
    column = f'"_r".{quote_ident("email", app.dialect)}'
    row = await app.db.fetch_one(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE LOWER({column}) = LOWER(:e) LIMIT 1',
        {"e": email},
    )
    return codec.decode(row) if row else None


async def create_from_provider(
    app: App, coll: Collection, user: AuthUser, create_data: dict[str, Any], info: RequestInfo
) -> Record:
    """Sign-up through the normal create pipeline: the createRule and every field check apply."""
    if coll.name == "_superusers":
        raise BadRequest("Failed to authenticate.")
    payload = dict(create_data)
    if not (isinstance(payload.get("email"), str) and payload["email"]):
        payload["email"] = user.email
    mapped: dict[str, str] = (coll.options.get("oauth2") or {}).get("mappedFields") or {}
    for key, value in (("id", user.id), ("name", user.name)):
        if mapped.get(key) and mapped[key] not in payload:
            payload[mapped[key]] = value
    username_field = mapped.get("username")
    if (
        username_field
        and username_field not in payload
        and await _username_free(app, coll, username_field, user.username)
    ):
        payload[username_field] = user.username
    files = await _mapped_avatar(app, coll, mapped.get("avatarURL", ""), user, payload)
    if "password" not in payload:
        password = secrets.token_urlsafe(24)
        payload.update(password=password, passwordConfirm=password)
    record = await requests.create_record(app, coll, payload, info, files, request_hook=False)
    if record.get("email") == user.email and not record.get("verified"):
        # the address is the one the provider verified (or both are empty)
        record = await save.save_changes(app, coll, record["id"], {"verified": True})
    return record


async def _username_free(app: App, coll: Collection, field_name: str, username: str) -> bool:
    field = coll.get_field(field_name)
    if not username or field is None or field.type != "text":
        return False
    if field.validate(username, _validation_context(app, coll)) is not None:
        return False
    column = quote_ident(field_name, app.dialect)
    taken = await app.db.fetch_one(
        f"SELECT 1 FROM {quote_ident(coll.table, app.dialect)} WHERE {column} = :u LIMIT 1",
        {"u": username},
    )
    return taken is None


def _validation_context(app: App, coll: Collection) -> Any:
    return ValidationContext(
        collection=coll, record={}, original=None, is_new=True, dialect=app.dialect
    )


async def _mapped_avatar(
    app: App, coll: Collection, field_name: str, user: AuthUser, payload: dict[str, Any]
) -> dict[str, list[Upload]] | None:
    field = coll.get_field(field_name) if field_name else None
    if field is None or field_name in payload or not user.avatar_url:
        return None
    if field.type != "file":
        payload[field_name] = user.avatar_url
        return None
    from roost.tools.oauth2.client import download_avatar  # the HTTP client loads on first use

    fetched = await download_avatar(runtime(app), user.avatar_url)
    return {field_name: [Upload(fetched[0], fetched[1])]} if fetched else None


async def claim_existing(
    app: App,
    coll: Collection,
    record: Record,
    user: AuthUser,
    info: RequestInfo,
    keep: tuple[str, str],
) -> Record:
    """Bring an existing record in line with the provider's account.

    A record found through anything but the caller's own session that is still unverified may
    have been registered by someone else with this address: its password is replaced, and once
    it turns verified every other provider link is dropped, so nobody keeps a way in.
    """
    signed_in = (
        info.auth_collection is not None
        and info.auth_collection.id == coll.id
        and info.auth_id == record["id"]
    )
    changes: dict[str, Any] = {}
    if not signed_in and record.get("email") and not record.get("verified"):
        password = secrets.token_urlsafe(24)
        changes.update(password=password, passwordConfirm=password)
    email = str(record.get("email") or "")
    if not email and user.email:
        email = changes["email"] = user.email
    if not record.get("verified") and (not email or email == user.email):
        changes["verified"] = True
    if not changes:
        return record
    updated = await save.save_changes(app, coll, record["id"], changes)
    if changes.get("verified"):
        await drop_other_links(app, coll, record["id"], keep)
    return updated


async def drop_other_links(
    app: App, coll: Collection, record_id: str, keep: tuple[str, str]
) -> None:
    ext = _external_auths(app)
    codec = codec_for(ext, app.dialect)
    rows = await app.db.fetch_all(
        f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE "_r"."collectionRef" = :c AND "_r"."recordRef" = :r',
        {"c": coll.id, "r": record_id},
    )
    for row in rows:
        link = codec.decode(row)
        if (link.get("provider"), link.get("providerId")) != keep:
            await save.delete_by_id(app, ext, link["id"])


async def link(app: App, coll: Collection, record: Record, provider: str, provider_id: str) -> None:
    body = {
        "collectionRef": coll.id,
        "recordRef": record["id"],
        "provider": provider,
        "providerId": provider_id,
    }
    try:
        await save.save_new(app, _external_auths(app), body)
    except RoostError as exc:
        # e.g. the record is already linked to another account of this provider
        raise BadRequest("Failed to authenticate.") from exc


def _external_auths(app: App) -> Collection:
    ext = app.collections.get(EXTERNAL_AUTHS)
    assert ext is not None, "the _externalAuths system collection is missing"
    return ext
