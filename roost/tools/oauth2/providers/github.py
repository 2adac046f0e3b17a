"""GitHub. Its user object may hide or omit the e-mail, so the verified primary address comes
from the separate e-mails endpoint."""

from __future__ import annotations

from typing import Any

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    emails_url = str(
        session.config.extra.get("emailsURL") or session.config.userinfo_url.rstrip("/") + "/emails"
    )
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        username=text(data, "login"),
        email=await _verified_primary_email(session, emails_url),
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


async def _verified_primary_email(session: ProviderSession, url: str) -> str:
    try:
        emails: Any = await session.get_json(url)
    except ProviderError:
        return ""  # the user:email scope was not granted: no trusted address
    for item in emails if isinstance(emails, list) else []:
        if isinstance(item, dict) and truthy(item.get("primary")) and truthy(item.get("verified")):
            return text(item, "email")
    return ""


SPECS = [
    ProviderSpec(
        name="github",
        display_name="GitHub",
        fetch_user=fetch_user,
        auth_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
        scopes=("read:user", "user:email"),
        order=7,
        logo=monogram("GH", "#24292f"),
    )
]
