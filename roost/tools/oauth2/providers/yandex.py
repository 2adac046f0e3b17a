"""Yandex ID. Its ``default_email`` is the account's confirmed address; the avatar is built
from the avatar id unless Yandex says the user has none."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

AVATAR_URL = "https://avatars.yandex.net/get-yapic/{}/islands-200"


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    avatar_id = text(data, "default_avatar_id")
    has_avatar = avatar_id and not truthy(data.get("is_avatar_empty"))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "real_name"),
        username=text(data, "login"),
        email=text(data, "default_email"),
        avatar_url=AVATAR_URL.format(avatar_id) if has_avatar else "",
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="yandex",
        display_name="Yandex",
        fetch_user=fetch_user,
        auth_url="https://oauth.yandex.com/authorize",
        token_url="https://oauth.yandex.com/token",
        userinfo_url="https://login.yandex.ru/info",
        scopes=("login:email", "login:avatar", "login:info"),
        order=4,
        logo=monogram("Y", "#fc3f1d"),
    )
]
