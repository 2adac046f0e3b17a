"""Gitee. The profile's public ``email`` is used when it is a well-formed address; otherwise
the confirmed primary address comes from the e-mails endpoint (``extra.emailsURL``)."""

from __future__ import annotations

import re
from typing import Any

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, string_list, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

EMAILS_URL = "https://gitee.com/api/v5/emails"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    email = text(data, "email")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "name"),
        username=text(data, "login"),
        email=email if _EMAIL.match(email) else await _primary_email(session),
        avatar_url=text(data, "avatar_url"),
        raw_user=data,
    )


async def _primary_email(session: ProviderSession) -> str:
    url = str(session.config.extra.get("emailsURL") or EMAILS_URL)
    try:
        emails: Any = await session.get_json(url)
    except ProviderError as exc:
        if exc.status:
            return ""  # scope not granted, or an answer that is no e-mail list
        raise
    for item in emails if isinstance(emails, list) else []:
        if not isinstance(item, dict) or text(item, "state") != "confirmed":
            continue
        if "primary" in string_list(item.get("scope")) and _EMAIL.match(text(item, "email")):
            return text(item, "email")
    return ""


SPECS = [
    ProviderSpec(
        name="gitee",
        display_name="Gitee",
        fetch_user=fetch_user,
        auth_url="https://gitee.com/oauth/authorize",
        token_url="https://gitee.com/oauth/token",
        userinfo_url="https://gitee.com/api/v5/user",
        scopes=("user_info", "emails"),
        order=10,
        logo=monogram("G", "#c71d23"),
    )
]
