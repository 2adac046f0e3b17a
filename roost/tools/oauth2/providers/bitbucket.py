"""Bitbucket Cloud. Only active accounts may sign in; the e-mail is the primary, confirmed
address from ``<userInfoURL>/emails`` (none when that endpoint refuses)."""

from __future__ import annotations

from typing import Any

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    if text(data, "account_status") != "active":
        raise ProviderError("the Bitbucket user is not active")
    return AuthUser(
        id=require_id(text(data, "uuid")),
        name=text(data, "display_name"),
        username=text(data, "username"),
        email=await _primary_confirmed_email(session),
        avatar_url=text(nested(data, "links", "avatar"), "href"),
        raw_user=data,
    )


async def _primary_confirmed_email(session: ProviderSession) -> str:
    try:
        page: Any = await session.get_json(session.config.userinfo_url + "/emails")
    except ProviderError as exc:
        if exc.status >= 400:
            return ""  # the email scope was not granted
        raise
    values = page.get("values") if isinstance(page, dict) else None
    for item in values if isinstance(values, list) else []:
        if (
            isinstance(item, dict)
            and truthy(item.get("is_primary"))
            and truthy(item.get("is_confirmed"))
        ):
            return text(item, "email")
    return ""


SPECS = [
    ProviderSpec(
        name="bitbucket",
        display_name="Bitbucket",
        fetch_user=fetch_user,
        auth_url="https://bitbucket.org/site/oauth2/authorize",
        token_url="https://bitbucket.org/site/oauth2/access_token",
        userinfo_url="https://api.bitbucket.org/2.0/user",
        scopes=("account",),
        pkce=False,
        order=9,
        logo=monogram("B", "#0052cc"),
    )
]
