"""GitLab (gitlab.com or a self-hosted instance through authURL/tokenURL/userInfoURL)."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    # an address counts as verified only once GitLab reports it confirmed
    confirmed = bool(data.get("confirmed_at"))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        username=text(data, "username"),
        email=text(data, "email") if confirmed else "",
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="gitlab",
        display_name="GitLab",
        fetch_user=fetch_user,
        auth_url="https://gitlab.com/oauth/authorize",
        token_url="https://gitlab.com/oauth/token",
        userinfo_url="https://gitlab.com/api/v4/user",
        scopes=("read_user",),
        order=8,
        logo=monogram("GL", "#fc6d26"),
    )
]
