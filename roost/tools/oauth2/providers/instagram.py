"""Instagram (business login). Registered as ``instagram2``: the plain ``instagram`` name
belonged to the retired Basic Display API. Instagram shares no e-mail. The token response's
``permissions`` are kept in the raw user when the profile does not carry them."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

FIELDS = "id,username,account_type,user_id,name,profile_picture_url,followers_count,follows_count,media_count"


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    if "permissions" not in data and session.token.get("permissions") is not None:
        data["permissions"] = session.token["permissions"]
    return AuthUser(
        id=require_id(text(data, "user_id")),
        name=text(data, "name"),
        username=text(data, "username"),
        avatar_url=text(data, "profile_picture_url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="instagram2",
        display_name="Instagram",
        fetch_user=fetch_user,
        auth_url="https://www.instagram.com/oauth/authorize",
        token_url="https://api.instagram.com/oauth/access_token",
        userinfo_url=f"https://graph.instagram.com/me?fields={FIELDS}",
        scopes=("instagram_business_basic",),
        order=6,
        logo=monogram("I", "#e1306c"),
    )
]
