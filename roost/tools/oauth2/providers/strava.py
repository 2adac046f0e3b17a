"""Strava. The athlete's name is first and last name joined; Strava shares no e-mail."""

from __future__ import annotations

from roost.tools.oauth2.providers._claims import as_object, require_id, text
from roost.tools.oauth2.providers.base import AuthUser, ProviderSession, ProviderSpec, monogram


async def fetch_user(session: ProviderSession) -> AuthUser:
    data = as_object(await session.get_json(session.config.userinfo_url))
    athlete_id = text(data, "id")
    return AuthUser(
        id=require_id("" if athlete_id == "0" else athlete_id),
        name=f"{text(data, 'firstname')} {text(data, 'lastname')}".strip(),
        username=text(data, "username"),
        avatar_url=text(data, "profile"),
        raw_user=data,
    )


SPECS = [
    ProviderSpec(
        name="strava",
        display_name="Strava",
        fetch_user=fetch_user,
        auth_url="https://www.strava.com/oauth/authorize",
        token_url="https://www.strava.com/api/v3/oauth/token",
        userinfo_url="https://www.strava.com/api/v3/athlete",
        scopes=("profile:read_all",),
        order=25,
        logo=monogram("S", "#fc4c02"),
    )
]
