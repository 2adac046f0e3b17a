"""Auth flows that core offers to every transport: password login, refresh and method listing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.auth import tokens
from roost.core.auth.superuser_ips import check_superuser_ip
from roost.core.collections import Collection
from roost.core.db import quote_ident
from roost.core.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from roost.core.events import RequestInfo
from roost.core.fields import FieldError
from roost.core.record_io import Record, codec_for
from roost.core.rules import compile_condition

if TYPE_CHECKING:
    from roost.core.app import App

ALIAS = '"_r"'
AUTH_CONTEXT_MISSING = "Missing or invalid auth collection context."


def require_auth_collection(coll: Collection | None) -> Collection:
    if coll is None:
        raise NotFound("Missing or invalid collection context.")
    if not coll.is_auth:
        raise NotFound(AUTH_CONTEXT_MISSING)
    return coll


async def _find_by_identity(app: App, coll: Collection, field_name: str, identity: str) -> Record | None:
    if "\x00" in identity:  # PostgreSQL refuses NUL in text; PocketBase answers "Failed to authenticate."
        return None
    codec = codec_for(coll, app.dialect)
    column = f'"_r".{quote_ident(field_name, app.dialect)}'
    cond = f"{column} = :v"
    row = await app.db.fetch_one(f'SELECT {codec.select(ALIAS)} FROM {codec.table} AS "_r" WHERE {cond} LIMIT 1', {"v": identity})
    return codec.decode(row) if row else None


def identity_fields(coll: Collection, method_options: dict[str, Any]) -> list[str]:
    """A Roost login method's identity fields: its own, else password auth's, else ``email``."""
    password = coll.options.get("passwordAuth") or {}
    return [str(f) for f in (method_options.get("identityFields") or password.get("identityFields") or ["email"])]


async def find_by_identity_fields(app: App, coll: Collection, fields: list[str], identity: str) -> Record | None:
    """The first record whose value of one of ``fields`` (in order) equals ``identity``."""
    for name in fields:
        if coll.get_field(name) is not None:
            found = await _find_by_identity(app, coll, name, identity)
            if found is not None:
                return found
    return None


async def auth_with_password(app: App, coll: Collection, body: dict[str, Any], info: RequestInfo) -> tuple[Record, str]:
    """Check an identity/password pair; returns the record and a fresh auth token."""
    from roost.core.auth.throttle import check_password

    options = coll.options.get("passwordAuth") or {}
    if not options.get("enabled"):
        raise BadRequest("The collection is not configured to allow password authentication.")
    identity = body.get("identity")
    password = body.get("password")
    errors = {}
    if not isinstance(identity, str) or not identity:
        errors["identity"] = FieldError("validation_required", "Cannot be blank.")
    if not isinstance(password, str) or not password:
        errors["password"] = FieldError("validation_required", "Cannot be blank.")
    if errors:
        raise ValidationFailed("An error occurred while validating the submitted data.", errors)
    fields = list(options.get("identityFields") or [])
    wanted = body.get("identityField")
    if wanted:
        if wanted not in fields:
            raise ValidationFailed(
                "An error occurred while validating the submitted data.",
                {"identityField": FieldError("validation_in_invalid", "Must be a valid value.")},
            )
        fields = [wanted]
    record = None
    for name in fields:
        if coll.get_field(name) is not None:
            record = await _find_by_identity(app, coll, name, str(identity))
            if record is not None:
                break
    # brute-force throttling, timing-neutral failures and rehashing to the current policy
    record = await check_password(app, coll, record, str(identity), str(password), info.ip)
    return await finish_auth(app, coll, record, info, "password", body)


async def finish_auth(
    app: App, coll: Collection, record: Record, info: RequestInfo, method: str, body: dict[str, Any]
) -> tuple[Record, str]:
    """Where every successful login (password, OAuth2, OTP, ...) ends: the collection's
    authRule, then the steps that may still stop it (MFA, login alerts), then a fresh token.

    ``method`` names the first factor (``password``, ``oauth2``, ``otp``); ``body`` is the
    login request (it may carry an ``mfaId``).
    """
    from roost.core.auth.alerts import track_origin
    from roost.core.auth.mfa import check_mfa
    from roost.core.auth.sessions import require_enabled, wants_cookie

    if wants_cookie(info):
        # refused before any side effect (MFA rows, login alerts); the session itself is
        # created by the transport, which owns the cookie
        require_enabled(coll)
    check_superuser_ip(app, coll, info.ip)
    await check_auth_rule(app, coll, record, info)
    await check_mfa(app, coll, record, info, method, body)
    if method:
        await track_origin(app, coll, record, info)
    return record, tokens.issue(coll, record)


async def check_auth_rule(app: App, coll: Collection, record: Record, info: RequestInfo) -> None:
    rule = coll.rule("authRule")
    denied = "The request doesn't satisfy the collection requirements to authenticate."
    if info.is_superuser:  # PocketBase's CanAccessRecord: a superuser caller passes every rule
        return
    if rule is None:
        raise Forbidden(denied)
    if rule == "":
        return
    sql, params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    params["_aid"] = record["id"]
    row = await app.db.fetch_one(f'SELECT 1 FROM {quote_ident(coll.table, app.dialect)} AS "_r" WHERE "_r"."id" = :_aid AND ({sql})', params)
    if row is None:
        raise Forbidden(denied)


async def auth_refresh(app: App, coll: Collection, info: RequestInfo, token: str) -> tuple[Record, str]:
    if info.auth is None or info.auth_collection is None:
        raise Unauthorized("The request requires valid record authorization token.")
    if info.auth_collection.id != coll.id:
        raise Forbidden(f"The request requires auth record from {info.auth_collection.name} collection.")
    claims = tokens.unverified_claims(token) or {}
    record = dict(info.auth)
    check_superuser_ip(app, coll, info.ip)
    await check_auth_rule(app, coll, record, info)
    if claims.get("refreshable") is False:
        return record, token
    return record, tokens.issue(coll, record)


def auth_methods(coll: Collection, oauth2_providers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The auth-methods answer; ``oauth2_providers`` comes from :func:`oauth2.list_providers`."""
    providers = list(oauth2_providers or [])
    password = coll.options.get("passwordAuth") or {}
    oauth2 = coll.options.get("oauth2") or {}
    mfa = coll.options.get("mfa") or {}
    otp = coll.options.get("otp") or {}
    identity_fields = list(password.get("identityFields") or [])
    enabled = bool(password.get("enabled"))
    return {
        "password": {"identityFields": identity_fields if enabled else [], "enabled": enabled},
        "oauth2": {"providers": providers, "enabled": bool(oauth2.get("enabled"))},
        "mfa": {"enabled": bool(mfa.get("enabled")), "duration": int(mfa.get("duration", 0)) if mfa.get("enabled") else 0},
        "otp": {"enabled": bool(otp.get("enabled")), "duration": int(otp.get("duration", 0)) if otp.get("enabled") else 0},
        "authProviders": [{**p, "logo": ""} for p in providers],  # the legacy copy has no logos
        "usernamePassword": enabled and "username" in identity_fields,
        "emailPassword": enabled and "email" in identity_fields,
    }
