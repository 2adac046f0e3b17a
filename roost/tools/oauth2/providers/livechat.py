"""LiveChat (accounts API). Scopes are chosen in the LiveChat developer console, so none are
requested; the e-mail counts only when ``email_verified``."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    return AuthUser(
        id=require_id(text(data, "account_id")),
        name=text(data, "name"),
        email=text(data, "email") if truthy(data.get("email_verified")) else "",
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="livechat",
        display_name="LiveChat",
        fetch_user=fetch_user,
        auth_url="https://accounts.livechat.com/",
        token_url="https://accounts.livechat.com/token",
        userinfo_url="https://accounts.livechat.com/v2/accounts/me",
        order=27,
        logo=monogram("LC", "#ff5100"),
    )
]
