"""Facebook (Graph API ``/me``). Graph returns an e-mail only when the account has a usable
one, and it is taken as verified, as the reference server does."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        email=text(data, "email"),
        avatar_url=text(nested(data, "picture", "data"), "url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="facebook",
        display_name="Facebook",
        fetch_user=fetch_user,
        auth_url="https://www.facebook.com/v3.2/dialog/oauth",
        token_url="https://graph.facebook.com/v3.2/oauth/access_token",
        userinfo_url="https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        scopes=("email",),
        order=5,
        logo=monogram("f", "#1877f2"),
    )
]
