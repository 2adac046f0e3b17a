"""Microsoft (Entra ID / personal accounts through Microsoft Graph).

Graph's ``mail`` attribute can be set by a tenant administrator without proving ownership, so
Roost does not treat it as verified (no linking by e-mail) unless the collection's provider
entry opts in with ``extra.trustEmail = true`` (for single-tenant apps that trust their tenant).
"""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    trusted = truthy(session.config.extra.get("trustEmail"))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "displayName"),
        email=text(data, "mail") if trusted else "",
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="microsoft",
        display_name="Microsoft",
        fetch_user=fetch_user,
        auth_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
        userinfo_url="https://graph.microsoft.com/v1.0/me",
        scopes=("User.Read",),
        order=3,
        logo=monogram("M", "#00a4ef"),
    )
]
