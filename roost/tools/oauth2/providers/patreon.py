"""Patreon (API v2, JSON:API). The user is ``data`` with its fields under ``attributes``; the
e-mail counts only when ``is_email_verified``."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

FIELDS = "fields%5Buser%5D=full_name,email,vanity,image_url,is_email_verified"


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = nested(raw, "data")
    attributes = nested(data, "attributes")
    verified = truthy(attributes.get("is_email_verified"))
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(attributes, "full_name"),
        username=text(attributes, "vanity"),
        email=text(attributes, "email") if verified else "",
        avatar_url=text(attributes, "image_url"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="patreon",
        display_name="Patreon",
        fetch_user=fetch_user,
        auth_url="https://www.patreon.com/oauth2/authorize",
        token_url="https://www.patreon.com/api/oauth2/token",
        userinfo_url=f"https://www.patreon.com/api/oauth2/v2/identity?{FIELDS}",
        scopes=("identity", "identity[email]"),
        order=24,
        logo=monogram("P", "#ff424d"),
    )
]
