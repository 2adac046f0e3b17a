"""Discord."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    user_id = require_id(text(data, "id"))
    avatar = text(data, "avatar")
    return AuthUser(
        id=user_id,
        name=text(data, "global_name") or text(data, "username"),
        username=text(data, "username"),
        email=text(data, "email") if truthy(data.get("verified")) else "",
        avatar_url=f"https://cdn.discordapp.com/avatars/{user_id}/{avatar}.png" if avatar else "",
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="discord",
        display_name="Discord",
        fetch_user=fetch_user,
        auth_url="https://discord.com/api/oauth2/authorize",
        token_url="https://discord.com/api/oauth2/token",
        userinfo_url="https://discord.com/api/users/@me",
        scopes=("identify", "email"),
        order=12,
        logo=monogram("D", "#5865f2"),
    )
]
