"""Twitch (Helix). Helix wants the app's ``Client-Id`` header next to the token; the user is
the first entry of ``data``, and its e-mail is the account's verified address."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, first_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    headers = {"Client-Id": session.config.client_id}
    raw = as_object(await session.get_json(session.config.userinfo_url, headers))
    data = first_object(raw.get("data"))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "display_name"),
        username=text(data, "login"),
        email=text(data, "email"),
        avatar_url=text(data, "profile_image_url"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="twitch",
        display_name="Twitch",
        fetch_user=fetch_user,
        auth_url="https://id.twitch.tv/oauth2/authorize",
        token_url="https://id.twitch.tv/oauth2/token",
        userinfo_url="https://api.twitch.tv/helix/users",
        scopes=("user:read:email",),
        order=23,
        logo=monogram("T", "#9146ff"),
    )
]
