"""Gitea and Forgejo (gitea.com or a self-hosted instance through the URL overrides). Only
active accounts may sign in; the e-mail is the verified primary address from
``<userInfoURL>/emails`` (none when the scope was not granted)."""

from __future__ import annotations

from typing import Any

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    if not truthy(data.get("active")):
        raise ProviderError("the Gitea user is not active")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "full_name"),
        username=text(data, "login"),
        email=await _verified_primary_email(session),
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


async def _verified_primary_email(session: ProviderSession) -> str:
    try:
        emails: Any = await session.get_json(session.config.userinfo_url + "/emails")
    except ProviderError as exc:
        if exc.status in (401, 403, 404):
            return ""
        raise
    for item in emails if isinstance(emails, list) else []:
        if isinstance(item, dict) and truthy(item.get("verified")) and truthy(item.get("primary")):
            return text(item, "email")
    return ""


SPECS = [
    ProviderSpec(
        name="gitea",
        display_name="Gitea/Forgejo",
        fetch_user=fetch_user,
        auth_url="https://gitea.com/login/oauth/authorize",
        token_url="https://gitea.com/login/oauth/access_token",
        userinfo_url="https://gitea.com/api/v1/user",
        scopes=("read:user", "user:email"),
        order=11,
        logo=monogram("Gt", "#609926"),
    )
]
