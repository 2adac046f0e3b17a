"""Passkeys (WebAuthn), a Roost addition to PocketBase's auth methods.

The ceremonies are py_webauthn's: Roost issues the options, keeps each challenge once in the
shared store (:mod:`roost.core.auth.passkey_store`) and stores the verified credentials in
``_passkeys``, several per record. An authenticated record registers credentials; anyone may
log in with one. A passkey login is the method ``passkey``: a first factor when the collection
option ``passkey.enabled`` is set, and a second factor for an open MFA session either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from roost.core.auth import passkey_store as store
from roost.core.auth.flows import find_by_identity_fields, finish_auth, identity_fields
from roost.core.auth.forms import caller_record, check, length, strings
from roost.core.auth.mfa import record_of_mfa
from roost.core.errors import BadRequest, FieldError, Forbidden, NotFound
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.records.save import delete_by_id, fetch_record, save_changes, save_new
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import now_string

if TYPE_CHECKING:
    from roost.core.base import App

METHOD = "passkey"
INVALID = "Invalid passkey."
REGISTER, AUTHENTICATE = "register", "authenticate"
T = TypeVar("T")


def _invalid(reason: str, message: str = INVALID) -> BadRequest:
    return BadRequest(message, {"credential": FieldError("validation_invalid_passkey", reason)})


def _library(call: Callable[[], T]) -> T:
    """Run one py_webauthn parse or verify step; whatever it refuses is the client's 400."""
    try:
        return call()
    except Exception as exc:  # the library raises many types (its own, base64, CBOR, struct) on bad input
        raise _invalid(str(exc) or type(exc).__name__) from exc


def _descriptors(rows: list[Record]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(str(row["credentialId"])),
            transports=[AuthenticatorTransport(t) for t in row.get("transports") or [] if t in known],
        )
        for row in rows
    ]


def _credential(body: dict[str, Any]) -> dict[str, Any]:
    credential = body.get("credential")
    if not isinstance(credential, dict):
        check({"credential": FieldError("validation_required", "Missing or invalid credential object.")})
    assert isinstance(credential, dict)
    return credential


def _challenge(client_data_json: bytes) -> str:
    return bytes_to_base64url(_library(lambda: parse_client_data_json(client_data_json)).challenge)


async def registration_options(app: App, coll: Collection, info: RequestInfo) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptionsJSON`` for the caller's next credential."""
    record = caller_record(coll, info)
    rp = store.relying_party(app, coll)
    name = str(record.get("email") or record.get("username") or record["id"])
    created = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=str(record["id"]).encode(),
        user_name=name,
        timeout=store.CEREMONY_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=_descriptors(await store.of_record(app, coll, record["id"])),
    )
    await store.save_challenge(app, bytes_to_base64url(created.challenge), coll, REGISTER, record["id"])
    return options_to_json_dict(created)


async def register(app: App, coll: Collection, info: RequestInfo, body: dict[str, Any]) -> dict[str, Any]:
    """Verify an attestation (``{credential, name?}``) and store the new credential."""
    record = caller_record(coll, info)
    (name,) = strings(body, "name")
    check({"name": length(name, 0, 100)})
    credential = _credential(body)
    parsed = _library(lambda: parse_registration_credential_json(credential))
    if await store.claim_challenge(app, _challenge(parsed.response.client_data_json), coll, REGISTER) != record["id"]:
        raise _invalid("The challenge was issued to another record.")
    rp = store.relying_party(app, coll)
    verified = _library(
        lambda: verify_registration_response(
            credential=parsed, expected_challenge=parse_client_data_json(parsed.response.client_data_json).challenge,
            expected_rp_id=rp.id, expected_origin=rp.origins,
        )
    )  # fmt: skip
    credential_id = bytes_to_base64url(verified.credential_id)
    if await store.by_credential_id(app, coll, credential_id) is not None:
        raise BadRequest("The passkey is already registered.", {"credential": FieldError("validation_passkey_exists", "Already registered.")})
    row = await save_new(
        app, await store.collection(app),
        {"collectionRef": coll.id, "recordRef": record["id"], "credentialId": credential_id,
         "publicKey": bytes_to_base64url(verified.credential_public_key), "signCount": verified.sign_count,
         "name": name, "aaguid": verified.aaguid, "deviceType": verified.credential_device_type.value,
         "backedUp": verified.credential_backed_up, "transports": [t.value for t in parsed.response.transports or []]},
    )  # fmt: skip
    return store.public_view(row)


async def _login_record(app: App, coll: Collection, body: dict[str, Any], mfa_id: str) -> Record | None:
    """The record a login is limited to (by ``mfaId`` or ``identity``), if any."""
    if mfa_id:
        return await record_of_mfa(app, coll, mfa_id)
    opts = store.options(coll)
    if not opts.get("enabled"):
        raise Forbidden("The collection is not configured to allow passkey authentication.")
    (identity,) = strings(body, "identity")
    check({"identity": length(identity, 0, 255)})
    return await find_by_identity_fields(app, coll, identity_fields(coll, opts), identity) if identity else None


def _mfa_id(body: dict[str, Any], info: RequestInfo) -> str:
    mfa_id = info.query.get("mfaId") or body.get("mfaId") or ""
    if not isinstance(mfa_id, str):
        raise BadRequest("Failed to read MFA Id.")
    return mfa_id


async def authentication_options(app: App, coll: Collection, body: dict[str, Any], info: RequestInfo) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptionsJSON``: for the record named by ``identity`` or
    ``mfaId``, else (or for an unknown identity) for any discoverable credential."""
    record = await _login_record(app, coll, body, _mfa_id(body, info))
    rows = await store.of_record(app, coll, record["id"]) if record is not None else []
    created = generate_authentication_options(
        rp_id=store.relying_party(app, coll).id,
        timeout=store.CEREMONY_SECONDS * 1000,
        allow_credentials=_descriptors(rows),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    owner = str(record["id"]) if record is not None and rows else ""
    await store.save_challenge(app, bytes_to_base64url(created.challenge), coll, AUTHENTICATE, owner)
    return options_to_json_dict(created)


async def auth_with_passkey(app: App, coll: Collection, body: dict[str, Any], info: RequestInfo) -> tuple[Record, str]:
    """Verify an assertion (``{credential, mfaId?}``) and finish the login like every method."""
    mfa_id = _mfa_id(body, info)
    if not mfa_id and not store.options(coll).get("enabled"):
        raise Forbidden("The collection is not configured to allow passkey authentication.")
    credential = _credential(body)
    parsed = _library(lambda: parse_authentication_credential_json(credential))
    owner = await store.claim_challenge(app, _challenge(parsed.response.client_data_json), coll, AUTHENTICATE)
    row = await store.by_credential_id(app, coll, bytes_to_base64url(parsed.raw_id))
    handle = parsed.response.user_handle
    if row is None or (owner and row["recordRef"] != owner) or (handle and handle != str(row["recordRef"]).encode()):
        raise _invalid("Unknown passkey.")
    await _verify_assertion(app, coll, row, parsed)
    record = await fetch_record(app, coll, str(row["recordRef"]))
    if record is None:
        raise _invalid("Unknown passkey.")
    return await finish_auth(app, coll, record, info, METHOD, body)


async def _verify_assertion(app: App, coll: Collection, row: Record, parsed: Any) -> None:
    """Check the signature and sign count, then store the new count (one winner per count)."""
    rp = store.relying_party(app, coll)
    verified = _library(
        lambda: verify_authentication_response(
            credential=parsed, expected_challenge=parse_client_data_json(parsed.response.client_data_json).challenge,
            expected_rp_id=rp.id, expected_origin=rp.origins,
            credential_public_key=base64url_to_bytes(str(row["publicKey"])),
            credential_current_sign_count=int(row.get("signCount") or 0),
        )
    )  # fmt: skip
    count = verified.new_sign_count
    if count and await app.store.incr(f"@passkey_count_{row['id']}_{count}", store.CEREMONY_SECONDS) > 1:
        raise _invalid(f"Response sign count of {count} was already used.")
    patch = {"signCount": count, "backedUp": verified.credential_backed_up, "lastUsed": now_string()}
    await save_changes(app, await store.collection(app), row["id"], patch)


async def list_passkeys(app: App, coll: Collection, info: RequestInfo) -> list[dict[str, Any]]:
    """The caller's credentials."""
    record = caller_record(coll, info)
    return [store.public_view(row) for row in await store.of_record(app, coll, record["id"])]


async def remove_passkey(app: App, coll: Collection, row_id: str, info: RequestInfo) -> None:
    """Delete one credential: its owner or a superuser; anyone else sees a 404."""
    if not info.is_superuser:
        caller_record(coll, info)
    row = await store.by_id(app, coll, row_id)
    if row is None or (not info.is_superuser and row["recordRef"] != info.auth_id):
        raise NotFound("The requested resource wasn't found.")
    await delete_by_id(app, await store.collection(app), row["id"])
