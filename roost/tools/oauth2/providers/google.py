"""Google (OpenID Connect user info)."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    return AuthUser(
        id=require_id(text(data, "sub") or text(data, "id")),
        name=text(data, "name"),
        email=text(data, "email") if truthy(data.get("email_verified")) else "",
        avatar_url=text(data, "picture"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="google",
        display_name="Google",
        fetch_user=fetch_user,
        auth_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        userinfo_url="https://www.googleapis.com/oauth2/v3/userinfo",
        scopes=(
            "https://www.googleapis.com/auth/userinfo.profile",
            "https://www.googleapis.com/auth/userinfo.email",
        ),
        order=2,
        logo=monogram("G", "#4285f4"),
    )
]
