"""monday.com. The user comes from a GraphQL ``me`` query; disabled users may not sign in and
the e-mail counts only when monday.com marks the user verified."""

from __future__ import annotations

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

QUERY = "query { me { id enabled name email is_verified photo_small }}"


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.post_json(session.config.userinfo_url, {"query": QUERY}))
    me = nested(raw, "data", "me")
    if not truthy(me.get("enabled")):
        raise ProviderError("the monday.com user is not enabled")
    return AuthUser(
        id=require_id(text(me, "id")),
        name=text(me, "name"),
        email=text(me, "email") if truthy(me.get("is_verified")) else "",
        avatar_url=text(me, "photo_small"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="monday",
        display_name="monday.com",
        fetch_user=fetch_user,
        auth_url="https://auth.monday.com/oauth2/authorize",
        token_url="https://auth.monday.com/oauth2/token",
        userinfo_url="https://api.monday.com/v2",
        scopes=("me:read",),
        order=18,
        logo=monogram("m", "#ff3d57"),
    )
]
