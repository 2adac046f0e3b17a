"""Kakao. The account e-mail counts only when Kakao marks it both valid and verified."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    profile = nested(data, "properties")
    account = nested(data, "kakao_account")
    trusted = truthy(account.get("is_email_valid")) and truthy(account.get("is_email_verified"))
    return AuthUser(
        id=require_id(text(data, "id")),
        username=text(profile, "nickname"),
        email=text(account, "email") if trusted else "",
        avatar_url=text(profile, "profile_image"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="kakao",
        display_name="Kakao",
        fetch_user=fetch_user,
        auth_url="https://kauth.kakao.com/oauth/authorize",
        token_url="https://kauth.kakao.com/oauth/token",
        userinfo_url="https://kapi.kakao.com/v2/user/me",
        scopes=("account_email", "profile_nickname", "profile_image"),
        order=14,
        logo=monogram("K", "#fee500"),
    )
]
