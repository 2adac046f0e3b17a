"""Spotify. With the default ``user-read-private`` scope Spotify shares no e-mail; the avatar
is the first profile image."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, first_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "display_name"),
        avatar_url=text(first_object(data.get("images")), "url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="spotify",
        display_name="Spotify",
        fetch_user=fetch_user,
        auth_url="https://accounts.spotify.com/authorize",
        token_url="https://accounts.spotify.com/api/token",
        userinfo_url="https://api.spotify.com/v1/me",
        scopes=("user-read-private",),
        order=21,
        logo=monogram("S", "#1db954"),
    )
]
