"""VK (ВКонтакте). VK refuses PKCE parameters, so PKCE is off by default. The profile has no
e-mail: VK sends it in the token response, next to the access token."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, first_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = first_object(raw.get("response"))
    name = f"{text(data, 'first_name')} {text(data, 'last_name')}".strip()
    return AuthUser(
        id=require_id(text(data, "id")),
        name=name,
        username=text(data, "screen_name"),
        email=text(session.token, "email"),
        avatar_url=text(data, "photo_max"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="vk",
        display_name="ВКонтакте",
        fetch_user=fetch_user,
        auth_url="https://oauth.vk.com/authorize",
        token_url="https://oauth.vk.com/access_token",
        userinfo_url="https://api.vk.com/method/users.get?fields=photo_max,screen_name&v=5.131",
        scopes=("email",),
        pkce=False,
        order=15,
        logo=monogram("VK", "#0077ff"),
    )
]
