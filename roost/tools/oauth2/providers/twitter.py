"""X (Twitter), OAuth 2.0 with PKCE. The e-mail is ``confirmed_email`` (the ``users.email``
scope). X wants confidential clients to authenticate with HTTP Basic at the token endpoint."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = nested(raw, "data")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        username=text(data, "username"),
        email=text(data, "confirmed_email"),
        avatar_url=text(data, "profile_image_url"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="twitter",
        display_name="X/Twitter",
        fetch_user=fetch_user,
        auth_url="https://x.com/i/oauth2/authorize",
        token_url="https://api.x.com/2/oauth2/token",
        userinfo_url="https://api.x.com/2/users/me?user.fields=id,name,username,profile_image_url,confirmed_email",
        scopes=("users.read", "users.email", "tweet.read"),
        order=13,
        logo=monogram("X", "#000000"),
        token_auth_method="client_secret_basic",
    )
]
