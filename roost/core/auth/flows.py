"""Auth flows that core offers to every transport: password login, refresh and method listing.

Every successful authentication ends in :func:`auth_answer`, which fires ``on_record_auth_request``
(MFA and login alerts run in its final link). Login hooks must reach their final link: a
handler that returns without ``e.next()`` refuses the login (400), so a forgotten ``next()``
can never skip MFA.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from roost.core.auth import tokens
from roost.core.auth.alerts import track_origin
from roost.core.auth.mfa import check_mfa
from roost.core.auth.sessions import require_enabled, wants_cookie
from roost.core.auth.superuser_ips import check_superuser_ip
from roost.core.auth.throttle import check_password
from roost.core.db.facade import quote_ident
from roost.core.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from roost.core.events import (
    RecordAuthRefreshRequestEvent,
    RecordAuthRequestEvent,
    RecordAuthWithPasswordRequestEvent,
    RecordRequestEvent,
    RequestInfo,
)
from roost.core.records.codec import Record, codec_for
from roost.core.rules.engine import compile_condition
from roost.core.schema.collection import Collection
from roost.core.schema.fields import FieldError

if TYPE_CHECKING:
    from roost.core.base import App

ALIAS = '"_r"'
AUTH_CONTEXT_MISSING = "Missing or invalid auth collection context."
FAILED = "Failed to authenticate."
Login = tuple[Record, str]
E = TypeVar("E", bound=RecordRequestEvent)


async def complete(hook: Any, event: E, final: Callable[[E], Awaitable[Login]]) -> Login:
    """Trigger a login hook; its final link's ``(record, token)``, or 400 if a handler stopped the chain."""
    if not hook.handlers:
        return await final(event)
    done: list[Login] = []

    async def run(e: E) -> None:
        done.append(await final(e))

    await hook.trigger(event, run)
    if not done:
        raise BadRequest(FAILED)
    return done[0]


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
    event = RecordAuthWithPasswordRequestEvent(
        app=app, info=info, collection=coll, record=record, identity=str(identity),
        identity_field=str(wanted or ""), password=str(password),
    )  # fmt: skip

    async def final(e: RecordAuthWithPasswordRequestEvent) -> Login:
        # brute-force throttling, timing-neutral failures and rehashing to the current policy
        checked = await check_password(e.app, e.collection, e.record, e.identity, e.password, e.info.ip)
        return await finish_auth(e.app, e.collection, checked, e.info, "password", body)

    return await complete(app.hooks.on_record_auth_with_password_request, event, final)


async def finish_auth(
    app: App, coll: Collection, record: Record, info: RequestInfo, method: str, body: dict[str, Any]
) -> tuple[Record, str]:
    """Where every successful login (password, OAuth2, OTP, ...) ends: the collection's
    authRule, then the steps that may still stop it (MFA, login alerts), then a fresh token.

    ``method`` names the first factor (``password``, ``oauth2``, ``otp``); ``body`` is the
    login request (it may carry an ``mfaId``).
    """
    if wants_cookie(info):
        # refused before any side effect (MFA rows, login alerts); the session itself is
        # created by the transport, which owns the cookie
        require_enabled(coll)
    check_superuser_ip(app, coll, info.ip)
    await check_auth_rule(app, coll, record, info)

    async def final(e: RecordAuthRequestEvent) -> Login:
        assert e.record is not None
        await check_mfa(e.app, e.collection, e.record, e.info, e.auth_method, body)
        if e.auth_method:
            await track_origin(e.app, e.collection, e.record, e.info)
        return e.record, e.token

    return await auth_answer(app, coll, record, info, tokens.issue(coll, record), method, final)


async def auth_answer(
    app: App,
    coll: Collection,
    record: Record,
    info: RequestInfo,
    token: str,
    method: str = "",
    final: Callable[[RecordAuthRequestEvent], Awaitable[Login]] | None = None,
) -> Login:
    """Fire ``on_record_auth_request`` for an authentication about to be answered with ``token``;
    ``method`` is empty for refreshes and impersonation (no MFA, no login alert)."""
    if final is None and not app.hooks.on_record_auth_request.handlers:
        return record, token
    event = RecordAuthRequestEvent(app=app, info=info, collection=coll, record=record, token=token, auth_method=method)
    return await complete(app.hooks.on_record_auth_request, event, final or _answer)


async def _answer(event: RecordAuthRequestEvent) -> Login:
    assert event.record is not None
    return event.record, event.token


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
    claims = tokens.known_claims(token) or {}
    event = RecordAuthRefreshRequestEvent(app=app, info=info, collection=coll, record=dict(info.auth))

    async def final(e: RecordAuthRefreshRequestEvent) -> Login:
        assert e.record is not None
        check_superuser_ip(e.app, e.collection, e.info.ip)
        await check_auth_rule(e.app, e.collection, e.record, e.info)
        fresh = token if claims.get("refreshable") is False else tokens.issue(e.collection, e.record)
        return await auth_answer(e.app, e.collection, e.record, e.info, fresh)

    return await complete(app.hooks.on_record_auth_refresh_request, event, final)


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
