"""What the passkey ceremonies keep: the relying party of a collection, single-use challenges
in the shared store, and the ``_passkeys`` rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from roost.core.errors import BadRequest, FieldError
from roost.core.records.codec import Record, codec_for
from roost.core.schema.auth_options import web_origin
from roost.core.schema.collection import Collection
from roost.core.schema.system import PASSKEY_MIGRATION, PASSKEYS, passkey_collection

if TYPE_CHECKING:
    from roost.core.base import App

#: seconds a ceremony may take (the browser's timeout hint and the challenge's lifetime)
CEREMONY_SECONDS = 300
EXPIRED = "Invalid or expired passkey challenge."


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: list[str]


def options(coll: Collection) -> dict[str, Any]:
    return dict(coll.options.get("passkey") or {})


def relying_party(app: App, coll: Collection) -> RelyingParty:
    """The collection's ``passkey.rpId/rpName/origins``, defaulting to settings ``meta.appURL``
    (its host and origin) and ``meta.appName``."""
    opts = options(coll)
    meta = app.settings.data.get("meta") or {}
    app_url = str(meta.get("appURL") or "")
    origins = [str(o) for o in opts.get("origins") or []] or [o for o in (web_origin(app_url),) if o]
    rp_id = str(opts.get("rpId") or urlsplit(app_url).hostname or "")
    if not rp_id or not origins:
        raise BadRequest("Passkeys need the settings' meta.appURL or the collection's passkey.rpId and passkey.origins.")
    return RelyingParty(rp_id, str(opts.get("rpName") or meta.get("appName") or "Roost"), origins)


async def collection(app: App) -> Collection:
    """``_passkeys``, created on first use (migration ``3_passkeys``)."""
    return await app.collections.ensure_system(PASSKEYS, passkey_collection, PASSKEY_MIGRATION)


async def save_challenge(app: App, challenge: str, coll: Collection, kind: str, record_id: str) -> None:
    """Remember an issued challenge (base64url) for one ceremony of ``coll``."""
    value = orjson.dumps({"c": coll.id, "k": kind, "r": record_id}).decode()
    await app.store.set(f"@passkey_challenge_{challenge}", value, CEREMONY_SECONDS)


async def claim_challenge(app: App, challenge: str, coll: Collection, kind: str) -> str:
    """Use up an issued challenge; returns the record id it was issued for ("" if none).

    The claim counter in the shared store makes it single-use even when two instances
    receive the same response at once.
    """
    key = f"@passkey_challenge_{challenge}"
    stored = await app.store.get(key) if challenge else None
    if stored is None or await app.store.incr(f"@passkey_claim_{challenge}", CEREMONY_SECONDS) > 1:
        raise BadRequest(EXPIRED, {"credential": FieldError("validation_invalid_challenge", EXPIRED)})
    await app.store.delete(key)
    data = orjson.loads(stored)
    if data.get("c") != coll.id or data.get("k") != kind:
        raise BadRequest(EXPIRED, {"credential": FieldError("validation_invalid_challenge", EXPIRED)})
    return str(data.get("r") or "")


async def _select(app: App, where: str, params: dict[str, Any]) -> list[Record]:
    passkeys = await collection(app)
    codec = codec_for(passkeys, app.dialect)
    sql = f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE {where} ORDER BY "_r"."created", "_r"."id"'
    return [codec.decode(row) for row in await app.db.fetch_all(sql, params)]


async def of_record(app: App, coll: Collection, record_id: str) -> list[Record]:
    """The credentials of one record, oldest first."""
    return await _select(app, '"_r"."collectionRef" = :c AND "_r"."recordRef" = :r', {"c": coll.id, "r": record_id})


async def by_credential_id(app: App, coll: Collection, credential_id: str) -> Record | None:
    found = await _select(app, '"_r"."collectionRef" = :c AND "_r"."credentialId" = :i', {"c": coll.id, "i": credential_id})
    return found[0] if found else None


async def by_id(app: App, coll: Collection, row_id: str) -> Record | None:
    found = await _select(app, '"_r"."collectionRef" = :c AND "_r"."id" = :i', {"c": coll.id, "i": row_id})
    return found[0] if found else None


def public_view(row: Record) -> dict[str, Any]:
    """A credential as its owner sees it (never the public key)."""
    keys = ("id", "name", "credentialId", "aaguid", "deviceType", "backedUp", "transports", "signCount", "lastUsed", "created", "updated")
    return {key: row.get(key) for key in keys}
