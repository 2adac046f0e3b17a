"""Lark / Feishu. The user is ``data`` of the user-info answer, identified by its ``union_id``
(stable across the developer's apps); Lark shares no e-mail."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, nested, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    raw = as_object(await session.get_json(session.config.userinfo_url))
    data = nested(raw, "data")
    return AuthUser(
        id=require_id(text(data, "union_id")),
        name=text(data, "name"),
        avatar_url=text(data, "avatar_url"),
        raw_user=raw,
    )


SPECS = [
    ProviderSpec(
        name="lark",
        display_name="Lark",
        fetch_user=fetch_user,
        auth_url="https://accounts.feishu.cn/open-apis/authen/v1/authorize",
        token_url="https://open.feishu.cn/open-apis/authen/v2/oauth/token",
        userinfo_url="https://open.feishu.cn/open-apis/authen/v1/user_info",
        order=19,
        logo=monogram("L", "#00d6b9"),
    )
]
