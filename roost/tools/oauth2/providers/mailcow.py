"""mailcow, a self-hosted mail server: it has no default endpoints, so the provider entry must
set ``authURL``, ``tokenURL`` and ``userInfoURL`` of the instance. Only active mailboxes may
sign in; the mailbox address is the (server-owned, so trusted) e-mail and its local part the
username."""

from __future__ import annotations

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    if not session.config.userinfo_url:
        raise ProviderError("mailcow needs the instance's userInfoURL")
    data = as_object(await session.get_json(session.config.userinfo_url))
    if data.get("active") not in (1, "1"):
        raise ProviderError("the mailcow user is not active")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(data, "full_name"),
        username=text(data, "username").split("@", 1)[0],
        email=text(data, "email"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="mailcow",
        display_name="mailcow",
        fetch_user=fetch_user,
        scopes=("profile",),
        order=28,
        logo=monogram("mc", "#1c6ea4"),
    )
]
