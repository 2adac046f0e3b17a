"""A small OAuth2 / OpenID Connect provider for tests, served on loopback.

It auto-approves whichever user ``approve_as`` names, and implements the authorization code
flow with PKCE (S256), client authentication, single-use codes, exact redirect-URI checks,
RS256 ID tokens with a JWKS, user info, discovery, and GitHub-shaped user/e-mail endpoints.
Knobs (``fail_token``, ``fail_userinfo``) make it misbehave on purpose.

``shaped`` answers any other provider's API shape: ``/shaped/<path>`` (GET or POST, bearer
token required) returns the ``(status, body)`` stored under ``<path>``, and every such call is
kept in ``seen`` so a test can check the headers and bodies a provider module sends.
``token_extra`` adds fields to the token response (VK's e-mail, Instagram's permissions); a
None value removes that field.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "roost-test-client"
CLIENT_SECRET = "roost-test-secret"
# a 1x1 transparent PNG
AVATAR_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user: str
    challenge: str
    method: str


@dataclass
class LocalProvider:
    """State and behaviour of the fake provider (one per test session; tests reset it)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    approve_as: str = ""
    fail_token: str = ""  # "" | "error" (400 invalid_grant) | "500" | "html"
    fail_userinfo: bool = False
    shaped: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    token_extra: dict[str, Any] = field(default_factory=dict)
    #: how each token request authenticated the client: "basic" or "post"
    token_auth: list[str] = field(default_factory=list)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    )

    def reset(self) -> None:
        self.users.clear()
        self.codes.clear()
        self.tokens.clear()
        self.approve_as = ""
        self.fail_token = ""
        self.fail_userinfo = False
        self.shaped.clear()
        self.seen.clear()
        self.token_extra.clear()
        self.token_auth.clear()

    def add_user(
        self, sub: str, email: str = "", *, verified: bool = True, **claims: Any
    ) -> dict[str, Any]:
        user = {"sub": sub, "email": email, "email_verified": verified, **claims}
        self.users[sub] = user
        self.approve_as = sub
        return user

    @property
    def issuer(self) -> str:
        return self.base_url

    # ----- endpoints -------------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("response_type") != "code"
            or not q.get("redirect_uri")
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = Grant(
            CLIENT_ID,
            q["redirect_uri"],
            self.approve_as,
            q.get("code_challenge", ""),
            q.get("code_challenge_method", ""),
        )
        params = {"code": code, "state": q.get("state", "")}
        if q.get("response_mode") == "form_post":
            inputs = "".join(
                f'<input type="hidden" name="{k}" value="{v}">' for k, v in params.items()
            )
            html = f'<form method="post" action="{q["redirect_uri"]}">{inputs}</form>'
            return Response(html, media_type="text/html")
        return RedirectResponse(
            q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") + urlencode(params), 302
        )

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if self.fail_token == "500":
            return Response("upstream broke", status_code=500)
        if self.fail_token == "html":
            return Response("<html>maintenance</html>", status_code=200, media_type="text/html")
        client_id, client_secret = _client_credentials(request, form)
        basic = request.headers.get("authorization", "").lower().startswith("basic ")
        self.token_auth.append("basic" if basic else "post")
        grant = self.codes.pop(str(form.get("code", "")), None)  # codes are single-use
        problem = ""
        if self.fail_token == "error":
            problem = "invalid_grant"
        elif client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        elif grant is None or form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != grant.redirect_uri or (grant.challenge and not _pkce_ok(str(form.get("code_verifier", "")), grant.challenge)):
            problem = "invalid_grant"
        if problem or grant is None:
            return JSONResponse(
                {"error": problem or "invalid_grant", "error_description": "rejected"},
                status_code=400,
            )
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.user
        answer = {
            "access_token": access, "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": secrets.token_urlsafe(24), "id_token": self.id_token(grant.user),
            **self.token_extra,
        }  # fmt: skip
        return JSONResponse({k: v for k, v in answer.items() if v is not None})

    def id_token(self, sub: str) -> str:
        user = self.users.get(sub, {"sub": sub})
        now = int(time.time())
        claims = {**user, "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 600}
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)

    def _bearer_user(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        sub = self.tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        return self.users.get(sub) if sub else None

    async def userinfo(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None or self.fail_userinfo:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(user)

    async def github_user(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"id": int(user["sub"]) if user["sub"].isdigit() else user["sub"], "login": user.get("preferred_username", ""),
                             "name": user.get("name", ""), "email": user.get("public_email"), "avatar_url": user.get("picture", "")})  # fmt: skip

    async def github_emails(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(user.get("emails", []))

    async def shaped_api(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or header[7:] not in self.tokens:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        path = request.path_params["path"]
        body = await request.body()
        self.seen.append({"method": request.method, "path": path, "query": dict(request.query_params),
                          "headers": dict(request.headers), "body": body.decode() if body else ""})  # fmt: skip
        status, answer = self.shaped.get(path, (404, {"error": "not_found"}))
        return JSONResponse(answer, status_code=status)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def discovery(self, request: Request) -> Response:
        b = self.base_url
        return JSONResponse({
            "issuer": b, "authorization_endpoint": f"{b}/authorize", "token_endpoint": f"{b}/token",
            "userinfo_endpoint": f"{b}/userinfo", "jwks_uri": f"{b}/jwks",
            "code_challenge_methods_supported": ["S256"],
        })  # fmt: skip

    async def avatar(self, request: Request) -> Response:
        return Response(AVATAR_PNG, media_type="image/png")

    def asgi(self) -> Starlette:
        return Starlette(routes=[
            Route("/authorize", self.authorize), Route("/token", self.token, methods=["POST"]),
            Route("/userinfo", self.userinfo), Route("/jwks", self.jwks),
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/github/user", self.github_user), Route("/github/user/emails", self.github_emails),
            Route("/avatar.png", self.avatar),
            Route("/shaped/{path:path}", self.shaped_api, methods=["GET", "POST"]),
        ])  # fmt: skip

    def oidc_config(self, name: str = "oidc", **overrides: Any) -> dict[str, Any]:
        """A collection ``oauth2.providers`` entry pointing at this provider."""
        b = self.base_url
        entry = {"name": name, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "authURL": f"{b}/authorize",
                 "tokenURL": f"{b}/token", "userInfoURL": f"{b}/userinfo",
                 "extra": {"jwksURL": f"{b}/jwks", "issuers": [b]}}  # fmt: skip
        entry.update(overrides)
        return entry


def _client_credentials(request: Request, form: Any) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        decoded = base64.b64decode(header[6:]).decode()
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _pkce_ok(verifier: str, challenge: str) -> bool:
    digest = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return bool(verifier) and secrets.compare_digest(digest, challenge)


class ProviderServer:
    """Runs a :class:`LocalProvider` with uvicorn in a background thread."""

    def __init__(self, port: int = 0) -> None:
        self.provider = LocalProvider()
        self.port = port or _free_port()
        self.provider.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.provider.asgi(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> ProviderServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
