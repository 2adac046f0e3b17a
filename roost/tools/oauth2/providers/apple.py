"""Sign in with Apple: ``form_post`` responses, an ID token as the only user source, and a
client secret that is a short-lived ES256 JWT signed with the developer's key.

Set ``clientSecret`` to a ready-made secret JWT, or put ``teamId``, ``keyId`` and
``privateKey`` (the .p8 PEM) in ``extra`` and Roost signs a fresh one for every code exchange.
Apple sends the user's name only once, in the ``user`` form field of the redirect; the
``/api/oauth2-redirect`` route keeps it for a minute, keyed by the code.
"""

from __future__ import annotations

import time

import jwt

from roost.tools.oauth2.providers._claims import require_id, text, truthy
from roost.tools.oauth2.providers.base import (
    AuthUser,
    ProviderConfig,
    ProviderSession,
    ProviderSpec,
    monogram,
)

ISSUER = "https://appleid.apple.com"
JWKS_URL = "https://appleid.apple.com/auth/keys"


def client_secret(config: ProviderConfig) -> str:
    extra = config.extra
    if not (extra.get("teamId") and extra.get("keyId") and extra.get("privateKey")):
        return config.client_secret
    now = int(time.time())
    claims = {
        "iss": extra["teamId"],
        "iat": now,
        "exp": now + 300,
        "aud": ISSUER,
        "sub": config.client_id,
    }
    return jwt.encode(
        claims, str(extra["privateKey"]), algorithm="ES256", headers={"kid": str(extra["keyId"])}
    )


async def fetch_user(session: ProviderSession) -> AuthUser:
    extra = session.config.extra
    claims = await session.id_token_claims(
        jwks_url=str(extra.get("jwksURL") or JWKS_URL), issuers=[str(extra.get("issuer") or ISSUER)]
    )
    name = session.rt.cached(f"apple-name:{session.code}") or ""
    return AuthUser(
        id=require_id(text(claims, "sub")),
        name=str(name),
        email=text(claims, "email") if truthy(claims.get("email_verified")) else "",
        raw_user=claims,
    )


SPECS = [
    ProviderSpec(
        name="apple",
        display_name="Apple",
        fetch_user=fetch_user,
        auth_url="https://appleid.apple.com/auth/authorize",
        token_url="https://appleid.apple.com/auth/token",
        scopes=("name", "email"),
        auth_params=(("response_mode", "form_post"),),
        client_secret=client_secret,
        order=1,
        logo=monogram("A", "#000000"),
    )
]
