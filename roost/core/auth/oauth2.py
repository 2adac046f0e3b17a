"""OAuth2 / OpenID Connect login for auth collections (PocketBase's ``auth-with-oauth2``).

:func:`list_providers` feeds ``auth-methods``; :func:`auth_with_oauth2` exchanges the code,
reads the provider's user, links or creates the record (:mod:`oauth2_linking`) and ends in
:func:`flows.finish_auth` like every other login.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.auth import flows
from roost.core.auth.oauth2_linking import (
    claim_existing,
    create_from_provider,
    find_by_email,
    find_external_auth,
    link,
)
from roost.core.auth.oauth2_runtime import runtime
from roost.core.errors import BadRequest, FieldError, Forbidden, ValidationFailed
from roost.core.events import RecordAuthWithOAuth2RequestEvent, RequestInfo
from roost.core.records.codec import Record
from roost.core.records.save import fetch_record
from roost.core.schema.collection import Collection
from roost.tools.oauth2 import providers as registry
from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers.base import AuthUser, ProviderConfig
from roost.tools.oauth2.runtime import OAuth2Runtime

if TYPE_CHECKING:
    from roost.core.base import App

LOAD_ERROR = "An error occurred while loading the submitted data."


async def list_providers(app: App, coll: Collection) -> list[dict[str, Any]]:
    """The ``oauth2.providers`` entries of auth-methods: a fresh state and PKCE pair each."""
    block = coll.options.get("oauth2") or {}
    if not block.get("enabled"):
        return []
    from roost.tools.oauth2.client import start_authorization  # loads on first use (authlib)

    out = []
    for entry in block.get("providers") or []:
        try:
            config = await provider_config(app, entry)
        except ProviderError:
            continue  # a provider whose discovery document is unreachable is left out
        if config is None:
            continue
        start = start_authorization(config)
        out.append({
            "name": config.name, "displayName": config.display_name, "logo": config.spec.logo,
            "state": start.state, "authURL": start.auth_url, "authUrl": start.auth_url,
            "codeVerifier": start.code_verifier, "codeChallenge": start.code_challenge,
            "codeChallengeMethod": "S256" if config.pkce else "",
        })  # fmt: skip
    return out


async def provider_config(app: App, entry: Any) -> ProviderConfig | None:
    """A collection's provider entry merged over its spec, with OIDC discovery applied."""
    if not isinstance(entry, dict):
        return None
    spec = registry.get(str(entry.get("name") or ""))
    if spec is None:
        return None
    config = ProviderConfig.from_options(spec, entry)
    discovery = str(config.extra.get("discoveryURL") or "")
    if discovery:
        await _apply_discovery(runtime(app), config, discovery)
    return config


async def _apply_discovery(rt: OAuth2Runtime, config: ProviderConfig, url: str) -> None:
    from roost.tools.oauth2.client import fetch_public_json

    doc = await fetch_public_json(rt, url)
    if not isinstance(doc, dict):
        raise ProviderError("discovery document is not an object")
    config.auth_url = config.auth_url or str(doc.get("authorization_endpoint") or "")
    config.token_url = config.token_url or str(doc.get("token_endpoint") or "")
    config.userinfo_url = config.userinfo_url or str(doc.get("userinfo_endpoint") or "")
    config.extra.setdefault("jwksURL", str(doc.get("jwks_uri") or ""))
    if doc.get("issuer"):
        config.extra.setdefault("issuers", [str(doc["issuer"])])


@dataclass
class OAuth2Form:
    provider: str
    code: str
    code_verifier: str
    redirect_url: str
    create_data: dict[str, Any]


def read_form(coll: Collection, body: dict[str, Any]) -> OAuth2Form:
    values: dict[str, str] = {}
    for key in ("provider", "code", "codeVerifier", "redirectURL", "redirectUrl"):
        value = body.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadRequest(LOAD_ERROR)
        values[key] = value
    create_data = body.get("createData")
    if create_data is not None and not isinstance(create_data, dict):
        raise BadRequest(LOAD_ERROR)
    errors: dict[str, FieldError] = {}
    if not values["code"]:
        errors["code"] = FieldError("validation_required", "Cannot be blank.")
    name = values["provider"]
    if not name:
        errors["provider"] = FieldError("validation_required", "Cannot be blank.")
    elif len(name) > 100:
        errors["provider"] = FieldError(
            "validation_length_out_of_range", "The length must be between 0 and 100."
        )
    elif _entry(coll, name) is None:
        errors["provider"] = FieldError(
            "validation_invalid_provider",
            f"Provider with name {name} is missing or is not enabled.",
            {"name": name},
        )
    if errors:
        raise ValidationFailed(LOAD_ERROR, errors)
    redirect = values["redirectURL"] or values["redirectUrl"]
    return OAuth2Form(
        name, values["code"], values["codeVerifier"], redirect, dict(create_data or {})
    )


def _entry(coll: Collection, name: str) -> dict[str, Any] | None:
    for entry in (coll.options.get("oauth2") or {}).get("providers") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


class _UserFetchFailed(Exception):
    pass


async def fetch_provider_user(app: App, config: ProviderConfig, form: OAuth2Form) -> AuthUser:
    """Exchange the code and read the provider's user; provider failures become 400s."""
    from roost.tools.oauth2.client import exchange_code

    rt = runtime(app)
    try:
        async with exchange_code(
            rt, config, form.code, form.code_verifier, form.redirect_url
        ) as session:
            try:
                user = await config.spec.fetch_user(session)
            except ProviderError as exc:
                raise _UserFetchFailed from exc
            user.access_token = str(session.token.get("access_token") or "")
            user.refresh_token = str(session.token.get("refresh_token") or "")
            user.expiry = _expiry(session.token.get("expires_at"))
            return user
    except _UserFetchFailed as exc:
        raise BadRequest("Failed to fetch OAuth2 user.") from exc
    except ProviderError as exc:
        raise BadRequest("Failed to fetch OAuth2 token.") from exc


def _expiry(expires_at: Any) -> str:
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool) or expires_at <= 0:
        return ""
    moment = dt.datetime.fromtimestamp(expires_at, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def require_enabled(coll: Collection) -> None:
    if not (coll.options.get("oauth2") or {}).get("enabled"):
        raise Forbidden("The collection is not configured to allow OAuth2 authentication.")


async def auth_with_oauth2(
    app: App, coll: Collection, body: dict[str, Any], info: RequestInfo
) -> tuple[Record, str, dict[str, Any]]:
    """Log in (or sign up) with a provider's authorization code; returns record, token, meta."""
    require_enabled(coll)
    info.context = "oauth2"
    form = read_form(coll, body)
    try:
        config = await provider_config(app, _entry(coll, form.provider))
    except ProviderError as exc:
        raise BadRequest("Failed to fetch OAuth2 token.") from exc
    if config is None:
        raise BadRequest("Failed to authenticate.")
    user = await fetch_provider_user(app, config, form)
    existing, found = await _find_user(app, coll, form, user, info)
    event = RecordAuthWithOAuth2RequestEvent(
        app=app, info=info, collection=coll, record=found, provider_name=form.provider,
        oauth2_user=user.meta(found is None), create_data=dict(form.create_data), is_new_record=found is None,
    )  # fmt: skip
    meta: list[dict[str, Any]] = []

    async def final(e: RecordAuthWithOAuth2RequestEvent) -> tuple[Record, str]:
        form.create_data = e.create_data
        record, is_new = await _link_user(
            e.app, e.collection, form, user, e.info, existing, e.record
        )
        meta.append(user.meta(is_new))
        return await flows.finish_auth(e.app, e.collection, record, e.info, "oauth2", body)

    record, token = await flows.complete(app.hooks.on_record_auth_with_oauth2_request, event, final)
    return record, token, meta[0]


async def _find_user(
    app: App, coll: Collection, form: OAuth2Form, user: AuthUser, info: RequestInfo
) -> tuple[Record | None, Record | None]:
    """The provider link of ``user`` (if any) and the record the login belongs to (None: a sign-up)."""
    existing = await find_external_auth(app, coll, form.provider, user.id)
    record: Record | None = None
    if existing is not None:
        record = await fetch_record(app, coll, str(existing.get("recordRef", "")))
    elif (
        info.auth is not None
        and info.auth_collection is not None
        and info.auth_collection.id == coll.id
    ):
        record = dict(info.auth)
    elif user.email:
        record = await find_by_email(app, coll, user.email)
    return existing, record


async def _link_user(
    app: App,
    coll: Collection,
    form: OAuth2Form,
    user: AuthUser,
    info: RequestInfo,
    existing: Record | None,
    record: Record | None,
) -> tuple[Record, bool]:
    async with app.db.transaction():
        if record is None:
            if existing is not None:
                raise BadRequest("Failed to authenticate.")
            record = await create_from_provider(app, coll, user, form.create_data, info)
            is_new = True
        else:
            record = await claim_existing(app, coll, record, user, info, (form.provider, user.id))
            is_new = False
        if existing is None:
            await link(app, coll, record, form.provider, user.id)
    return record, is_new
