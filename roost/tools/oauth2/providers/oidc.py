"""Generic OpenID Connect providers, under the names ``oidc``, ``oidc2`` and ``oidc3`` so that
one collection can use up to three of them.

Endpoints come from the provider entry or, when ``extra.discoveryURL`` is set, from the
provider's discovery document. The user is read from the verified ID token (``extra.jwksURL``,
``extra.issuers``) and/or the user-info endpoint; with both, their ``sub`` must agree.
"""

from __future__ import annotations

from typing import Any

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, string_list, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    claims = await read_claims(session)
    return AuthUser(
        id=require_id(text(claims, "sub")),
        name=text(claims, "name"),
        username=text(claims, "preferred_username"),
        email=text(claims, "email") if truthy(claims.get("email_verified")) else "",
        avatar_url=text(claims, "picture"),
        raw_user=claims,
    )


async def read_claims(session: ProviderSession) -> dict[str, Any]:
    extra = session.config.extra
    claims: dict[str, Any] = {}
    if session.token.get("id_token"):
        claims = await session.id_token_claims(
            jwks_url=str(extra.get("jwksURL") or ""), issuers=string_list(extra.get("issuers"))
        )
    if session.config.userinfo_url:
        info = as_object(await session.get_json(session.config.userinfo_url))
        if claims and text(info, "sub") != text(claims, "sub"):
            raise ProviderError("user info and id_token name different users")
        claims = {**claims, **info}
    if not claims:
        raise ProviderError("neither an id_token nor a user info endpoint")
    return claims


SPECS = [
    ProviderSpec(name=name, display_name="OIDC", fetch_user=fetch_user, scopes=("openid", "email", "profile"),
                 order=99, logo=monogram("ID", "#f78c40"))
    for name in ("oidc", "oidc2", "oidc3")
]  # fmt: skip
