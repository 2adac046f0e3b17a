"""WakaTime. The e-mail counts only when ``is_email_confirmed``; the photo is used only when
the user made it public."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = nested(raw, "data")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "display_name"),
        username=text(data, "username"),
        email=text(data, "email") if truthy(data.get("is_email_confirmed")) else "",
        avatar_url=text(data, "photo") if truthy(data.get("photo_public")) else "",
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="wakatime",
        display_name="WakaTime",
        fetch_user=fetch_user,
        auth_url="https://wakatime.com/oauth/authorize",
        token_url="https://wakatime.com/oauth/token",
        userinfo_url="https://wakatime.com/api/v1/users/current",
        scopes=("email",),
        order=26,
        logo=monogram("W", "#000000"),
    )
]
