"""What an OAuth2 provider descriptor is, and the user it yields.

A :class:`ProviderSpec` holds a provider's fixed facts (endpoints, scopes, whether it does PKCE)
and a ``fetch_user`` coroutine that turns an access token into an :class:`AuthUser`. The
collection's ``oauth2.providers[]`` entry (:class:`ProviderConfig`) overrides any of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from roost.tools.oauth2.runtime import OAuth2Runtime


class ProviderSession(Protocol):
    """What a provider's user fetcher gets: the exchanged token and calls made with it
    (implemented by :class:`roost.tools.oauth2.client.TokenSession`)."""

    config: ProviderConfig
    token: dict[str, Any]
    rt: OAuth2Runtime
    #: the authorization code the token was exchanged for
    code: str

    async def get_json(self, url: str, headers: dict[str, str] | None = None) -> Any: ...

    async def post_json(
        self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any: ...

    async def id_token_claims(self, *, jwks_url: str, issuers: list[str]) -> dict[str, Any]: ...


#: turns a fresh token into the provider's user (raises on any provider failure)
UserFetcher = Callable[[ProviderSession], Awaitable["AuthUser"]]


@dataclass
class AuthUser:
    """The provider's account, normalised. ``email`` is set only when the provider vouches
    that the address is verified: it is what account linking trusts."""

    id: str
    name: str = ""
    username: str = ""
    email: str = ""
    avatar_url: str = ""
    access_token: str = ""
    refresh_token: str = ""
    expiry: str = ""
    raw_user: dict[str, Any] = field(default_factory=dict)

    def meta(self, is_new: bool) -> dict[str, Any]:
        """The ``meta`` object of an auth-with-oauth2 response."""
        return {
            "id": self.id,
            "name": self.name,
            "username": self.username,
            "email": self.email,
            "avatarURL": self.avatar_url,
            "avatarUrl": self.avatar_url,  # older SDKs read this spelling
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiry": self.expiry,
            "rawUser": self.raw_user,
            "isNew": is_new,
        }


@dataclass(frozen=True)
class ProviderSpec:
    """A provider's built-in facts; registered once per name."""

    name: str
    display_name: str
    fetch_user: UserFetcher
    auth_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    scopes: tuple[str, ...] = ()
    pkce: bool = True
    logo: str = ""
    #: position in the provider catalogue (ties sort by name), as the reference server orders it
    order: int = 0
    #: extra query parameters of the authorization URL (Apple's ``response_mode``)
    auth_params: tuple[tuple[str, str], ...] = ()
    #: builds the client secret sent to the token endpoint (Apple signs a JWT); None = as configured
    client_secret: Callable[[ProviderConfig], str] | None = None
    #: how the client authenticates at the token endpoint: ``client_secret_post`` or
    #: ``client_secret_basic`` (providers such as Notion and X accept only the header)
    token_auth_method: str = "client_secret_post"


@dataclass
class ProviderConfig:
    """One entry of a collection's ``oauth2.providers`` list, merged over its spec."""

    spec: ProviderSpec
    client_id: str = ""
    client_secret: str = ""
    auth_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    display_name: str = ""
    pkce: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @classmethod
    def from_options(cls, spec: ProviderSpec, data: dict[str, Any]) -> ProviderConfig:
        pkce = data.get("pkce")
        extra = data.get("extra")
        return cls(
            spec=spec,
            client_id=str(data.get("clientId") or ""),
            client_secret=str(data.get("clientSecret") or ""),
            auth_url=str(data.get("authURL") or spec.auth_url),
            token_url=str(data.get("tokenURL") or spec.token_url),
            userinfo_url=str(data.get("userInfoURL") or spec.userinfo_url),
            display_name=str(data.get("displayName") or spec.display_name or spec.name),
            pkce=spec.pkce if pkce is None else bool(pkce),
            extra=dict(extra) if isinstance(extra, dict) else {},
        )

    def token_secret(self) -> str:
        return self.spec.client_secret(self) if self.spec.client_secret else self.client_secret


def monogram(letter: str, color: str) -> str:
    """A small round badge with one letter: Roost's own neutral provider logo."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="{color}"/>'
        '<text x="32" y="43" font-family="sans-serif" font-size="30" font-weight="bold" '
        f'fill="#fff" text-anchor="middle">{letter}</text></svg>'
    )
