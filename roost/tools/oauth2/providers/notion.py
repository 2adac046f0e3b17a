"""Notion. A token belongs to a bot; the signed-in person is the bot's owner. Notion's token
endpoint takes the client credentials only as HTTP Basic, and its API needs a version header."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

API_VERSION = "2022-06-28"


async def fetch_user(session: ProviderSession) -> AuthUser:
    headers = {"Notion-Version": API_VERSION}
    data = as_object(await session.get_json(session.config.userinfo_url, headers))
    owner = nested(data, "bot", "owner", "user")
    return AuthUser(
        id=require_id(text(owner, "id")),
        name=text(owner, "name"),
        email=text(nested(owner, "person"), "email"),
        avatar_url=text(owner, "avatar_url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="notion",
        display_name="Notion",
        fetch_user=fetch_user,
        auth_url="https://api.notion.com/v1/oauth/authorize",
        token_url="https://api.notion.com/v1/oauth/token",
        userinfo_url="https://api.notion.com/v1/users/me",
        order=17,
        logo=monogram("N", "#000000"),
        token_auth_method="client_secret_basic",
    )
]
