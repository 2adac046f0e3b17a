"""The OAuth2/OIDC client side, on Authlib and httpx: authorization URLs with PKCE, the code
exchange, user-info calls, ID token checks against the provider's JWKS, and OIDC discovery.

Every failure a provider can cause surfaces as :class:`ProviderError`; the login flow turns it
into PocketBase's 400 answers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt as pyjwt
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from roost.tools.oauth2.errors import ProviderError
from roost.tools.oauth2.providers.base import ProviderConfig
from roost.tools.oauth2.runtime import OAuth2Runtime

with warnings.catch_warnings():
    # Authlib >= 1.9 suggests its "httpx2" fork; plain httpx is what Roost ships and tests with
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

#: a JSON object a provider answered with
JSON = dict[str, Any]


@dataclass
class AuthStart:
    """What a client needs to send a user to the provider (one entry of auth-methods)."""

    state: str
    code_verifier: str
    code_challenge: str
    auth_url: str


def start_authorization(config: ProviderConfig) -> AuthStart:
    """A fresh state and PKCE pair, and the authorization URL ending in ``&redirect_uri=``
    so that the client appends its own redirect URL."""
    state = generate_token(30)
    verifier = challenge = ""
    params: dict[str, str] = dict(config.spec.auth_params)
    if config.pkce:
        verifier = generate_token(43)
        challenge = create_s256_code_challenge(verifier)
        params.update(code_challenge=challenge, code_challenge_method="S256")
    scope = " ".join(config.spec.scopes) or None
    url = prepare_grant_uri(
        config.auth_url, config.client_id, "code", scope=scope, state=state, **params
    )
    return AuthStart(state, verifier, challenge, url + "&redirect_uri=")


@dataclass
class TokenSession:
    """An exchanged token plus an HTTP client that sends it."""

    config: ProviderConfig
    client: AsyncOAuth2Client
    token: JSON
    rt: OAuth2Runtime
    #: the authorization code this session was made from (Apple keys the user's name by it)
    code: str = ""

    async def get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """GET ``url`` with the access token; the decoded JSON body."""
        try:
            res = await self.client.get(
                url, headers={"Accept": "application/json", **(headers or {})}
            )
        except (httpx.HTTPError, AuthlibBaseError) as exc:
            raise ProviderError(f"request to {url} failed") from exc
        return _json_of(res, self.rt)

    async def post_json(self, url: str, body: JSON, headers: dict[str, str] | None = None) -> Any:
        """POST ``body`` as JSON to ``url`` with the access token (GraphQL user queries)."""
        try:
            res = await self.client.post(
                url, json=body, headers={"Accept": "application/json", **(headers or {})}
            )
        except (httpx.HTTPError, AuthlibBaseError) as exc:
            raise ProviderError(f"request to {url} failed") from exc
        return _json_of(res, self.rt)

    async def id_token_claims(self, *, jwks_url: str, issuers: list[str]) -> JSON:
        """The verified claims of the token response's ``id_token``."""
        return await verify_id_token(
            self.rt, str(self.token.get("id_token") or ""), self.config.client_id, jwks_url, issuers
        )


def _json_of(res: httpx.Response, rt: OAuth2Runtime) -> Any:
    if res.status_code >= 400:
        raise ProviderError(f"provider answered {res.status_code}", res.status_code)
    if len(res.content) > rt.max_response_bytes:
        raise ProviderError("provider response too large", res.status_code)
    try:
        return res.json()
    except ValueError as exc:
        raise ProviderError("provider answered with invalid JSON", res.status_code) from exc


@asynccontextmanager
async def exchange_code(
    rt: OAuth2Runtime, config: ProviderConfig, code: str, code_verifier: str, redirect_url: str
) -> AsyncIterator[TokenSession]:
    """Trade an authorization code for a token; yields a session that can call the provider."""
    client = AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.token_secret(),
        token_endpoint_auth_method=config.spec.token_auth_method,
        redirect_uri=redirect_url,
        code_challenge_method="S256" if config.pkce else None,
        timeout=rt.timeout,
        leeway=0,
        transport=rt.transport,
    )
    async with client:
        extra = {"code_verifier": code_verifier} if config.pkce else {}
        try:
            token = await client.fetch_token(
                config.token_url, code=code, grant_type="authorization_code", **extra
            )
        except (AuthlibBaseError, httpx.HTTPError, ValueError, TypeError) as exc:
            raise ProviderError("token exchange failed") from exc
        if not isinstance(token, dict) or not token.get("access_token"):
            raise ProviderError("token response without access_token")
        # Authlib signs only "bearer" tokens and fails on a missing, null or other type; the
        # providers all issue bearer tokens but spell the type variously (VK leaves it out)
        client.token = {**token, "token_type": "Bearer"}
        yield TokenSession(config, client, dict(token), rt, code)


async def fetch_public_json(rt: OAuth2Runtime, url: str) -> Any:
    """GET a provider document (discovery, JWKS) without credentials, cached for a while."""
    cached = rt.cached(f"doc:{url}")
    if cached is not None:
        return cached
    try:
        async with httpx.AsyncClient(timeout=rt.timeout, transport=rt.transport) as http:
            res = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ProviderError(f"request to {url} failed") from exc
    data = _json_of(res, rt)
    rt.remember(f"doc:{url}", data)
    return data


async def verify_id_token(
    rt: OAuth2Runtime, id_token: str, client_id: str, jwks_url: str, issuers: list[str]
) -> JSON:
    """Check an ID token's signature against ``jwks_url`` and its audience, expiry and issuer.

    Without a ``jwks_url`` the signature is not checked: the token came straight from the
    provider's token endpoint over TLS, which OpenID Connect accepts as proof of origin.
    """
    if not id_token:
        raise ProviderError("missing id_token")
    try:
        if not jwks_url:
            claims = _unverified_claims(id_token)
        else:
            keys = KeySet.import_key_set(await fetch_public_json(rt, jwks_url))
            try:
                claims = dict(jwt.decode(id_token, keys, algorithms=_ASYMMETRIC).claims)
            except JoseError:
                # the provider may have rotated its keys since they were cached: fetch once more
                rt.forget(f"doc:{jwks_url}")
                keys = KeySet.import_key_set(await fetch_public_json(rt, jwks_url))
                claims = dict(jwt.decode(id_token, keys, algorithms=_ASYMMETRIC).claims)
        options: dict[str, Any] = {
            "aud": {"essential": True, "value": client_id},
            "exp": {"essential": True},
        }
        if issuers:
            options["iss"] = {"essential": True, "values": issuers}
        jwt.JWTClaimsRegistry(leeway=300, **options).validate(claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProviderError("invalid id_token") from exc
    return claims


def _unverified_claims(id_token: str) -> JSON:
    try:
        claims = pyjwt.decode(id_token, options={"verify_signature": False})
    except pyjwt.PyJWTError as exc:
        raise ValueError("malformed id_token") from exc
    if not isinstance(claims, dict):
        raise ValueError("malformed id_token")
    return claims


_ASYMMETRIC = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]


async def download_avatar(rt: OAuth2Runtime, url: str) -> tuple[str, bytes] | None:
    """Fetch an avatar image for a file field: public hosts only, no redirects, size-capped."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if not rt.allow_private_avatar_hosts and not await _is_public_host(parts.hostname):
        return None
    try:
        async with httpx.AsyncClient(
            timeout=rt.timeout, transport=rt.transport, follow_redirects=False
        ) as http:
            res = await http.get(url)
    except httpx.HTTPError:
        return None
    if res.status_code != 200 or not res.content or len(res.content) > rt.max_response_bytes:
        return None
    name = parts.path.rsplit("/", 1)[-1] or "avatar"
    return name, res.content


async def _is_public_host(host: str) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return False
    return bool(infos)
