"""Box. Only active accounts may sign in. The login is the account's e-mail, which Box
verifies before it lets an account authorize an app."""

from __future__ import annotations

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    if text(data, "status") != "active":
        raise ProviderError("the Box user is not active")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        email=text(data, "login"),
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="box",
        display_name="Box",
        fetch_user=fetch_user,
        auth_url="https://account.box.com/api/oauth2/authorize",
        token_url="https://api.box.com/oauth2/token",
        userinfo_url="https://api.box.com/2.0/users/me",
        scopes=("root_readonly",),
        order=20,
        logo=monogram("b", "#0061d5"),
    )
]
