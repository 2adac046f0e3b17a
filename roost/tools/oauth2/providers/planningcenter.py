"""Planning Center (People API ``/me``, JSON:API). Only people whose status is active may sign
in; Planning Center shares no e-mail here."""

from __future__ import annotations

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = nested(raw, "data")
    attributes = nested(data, "attributes")
    if text(attributes, "status") != "active":
        raise ProviderError("the Planning Center person is not active")
    return AuthUser(
        id=require_id(text(data, "id")),
        name=text(attributes, "name"),
        avatar_url=text(attributes, "avatar"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="planningcenter",
        display_name="Planning Center",
        fetch_user=fetch_user,
        auth_url="https://api.planningcenteronline.com/oauth/authorize",
        token_url="https://api.planningcenteronline.com/oauth/token",
        userinfo_url="https://api.planningcenteronline.com/people/v2/me",
        scopes=("people",),
        order=29,
        logo=monogram("PC", "#2266f7"),
    )
]
