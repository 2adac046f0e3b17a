"""Linear. The user comes from a GraphQL ``viewer`` query (a POST to the user-info URL);
deactivated members may not sign in. Linear rejects PKCE parameters, so PKCE is off."""

from __future__ import annotations

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text, truthy
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram

QUERY = "query Me { viewer { id displayName name email avatarUrl active } }"


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.post_json(session.config.userinfo_url, {"query": QUERY}))
    viewer = nested(raw, "data", "viewer")
    if not truthy(viewer.get("active")):
        raise ProviderError("the Linear user is not active")
    return AuthUser(
        id=require_id(text(viewer, "id")),
        name=text(viewer, "name"),
        username=text(viewer, "displayName"),
        email=text(viewer, "email"),
        avatar_url=text(viewer, "avatarUrl"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="linear",
        display_name="Linear",
        fetch_user=fetch_user,
        auth_url="https://linear.app/oauth/authorize",
        token_url="https://api.linear.app/oauth/token",
        userinfo_url="https://api.linear.app/graphql",
        scopes=("read",),
        pkce=False,
        order=16,
        logo=monogram("L", "#5e6ad2"),
    )
]
