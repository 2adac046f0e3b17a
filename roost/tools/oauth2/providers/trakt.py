"""Trakt. Its API wants the client id as ``trakt-api-key`` and an API version header on every
call; the account id is the user's ``uuid``. Trakt shares no e-mail."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    headers = {
        "Content-Type": "application/json",
        "trakt-api-key": session.config.client_id,
        "trakt-api-version": "2",
    }
    raw = as_object(await session.get_json(session.config.userinfo_url, headers))
    user = nested(raw, "user")
    return AuthUser(
        id=require_id(text(nested(user, "ids"), "uuid")),
        name=text(user, "name"),
        username=text(user, "username"),
        avatar_url=text(nested(user, "images", "avatar"), "full"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="trakt",
        display_name="Trakt",
        fetch_user=fetch_user,
        auth_url="https://trakt.tv/oauth/authorize",
        token_url="https://api.trakt.tv/oauth/token",
        userinfo_url="https://api.trakt.tv/users/settings",
        order=22,
        logo=monogram("T", "#ed1c24"),
    )
]
