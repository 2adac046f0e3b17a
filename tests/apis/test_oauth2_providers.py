"""Every built-in OAuth2 provider through the whole auth-with-oauth2 flow, against the loopback
provider (tests/oauth_provider.py) answering in that provider's own response shapes.

Each row names a provider, what its API answers (user info, and e-mail endpoints where the
provider has them), extra token-response fields, and the user Roost must read from it: the
``meta`` of the login answer and the record created with every user field mapped.
(``github`` and ``oidc*`` have their own flow tests in test_oauth2_api.py.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.conftest import Api
from tests.oauth_provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, ProviderServer

REDIRECT = "http://app.test/oauth-callback"
AV = "https://cdn.example/avatars/u.png"
MAPPED = {"id": "providerRef", "name": "name", "username": "handle", "avatarURL": "avatarLink"}


@pytest.fixture
def backend() -> str:
    return "sqlite"  # provider mapping does not touch the database; the flow tests cover the rest


@pytest.fixture(scope="module")
def idp_server() -> Iterator[ProviderServer]:
    server = ProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def idp(idp_server: ProviderServer) -> LocalProvider:
    idp_server.provider.reset()
    idp_server.provider.approve_as = "someone"
    return idp_server.provider


@dataclass
class Case:
    provider: str
    #: path under /shaped/ -> (status, body); "user" is the user-info URL
    answers: dict[str, tuple[int, Any]]
    #: id, name, username, email, avatarURL the login must report
    expect: dict[str, str]
    token_extra: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    user_query: str = ""
    label: str = ""

    @property
    def id(self) -> str:
        return self.provider + (f"-{self.label}" if self.label else "")


def user(body: Any, **more: tuple[int, Any]) -> dict[str, tuple[int, Any]]:
    return {"user": (200, body), **{k.replace("__", "/"): v for k, v in more.items()}}


def expect(
    id: str, name: str = "", username: str = "", email: str = "", avatar: str = AV
) -> dict[str, str]:
    return {"id": id, "name": name, "username": username, "email": email, "avatarURL": avatar}


CASES = [
    Case("google", user({"sub": "g-1", "name": "Goo Gle", "email": "g@example.com", "email_verified": True, "picture": AV}),
         expect("g-1", "Goo Gle", email="g@example.com")),
    Case("google", user({"sub": "g-2", "name": "Un Verified", "email": "g2@example.com", "email_verified": False}),
         expect("g-2", "Un Verified", avatar=""), label="unverified"),
    Case("microsoft", user({"id": "ms-1", "displayName": "Micro Soft", "mail": "ms@example.com"}),
         expect("ms-1", "Micro Soft", avatar="")),
    Case("microsoft", user({"id": "ms-2", "displayName": "Trusted Tenant", "mail": "ms2@example.com"}),
         expect("ms-2", "Trusted Tenant", email="ms2@example.com", avatar=""), extra={"trustEmail": True},
         label="trusted"),
    Case("gitlab", user({"id": 31, "name": "Git Lab", "username": "gl", "email": "gl@example.com",
                         "confirmed_at": "2024-01-01T00:00:00Z", "avatar_url": AV}),
         expect("31", "Git Lab", "gl", "gl@example.com")),
    Case("gitlab", user({"id": 32, "username": "gl2", "email": "gl2@example.com", "confirmed_at": None}),
         expect("32", username="gl2", avatar=""), label="unconfirmed"),
    Case("discord", user({"id": "80351110224678912", "username": "nelly", "global_name": "Nelly",
                          "avatar": "8342729096ea3675442027381ff50dfe", "email": "nelly@example.com", "verified": True}),
         expect("80351110224678912", "Nelly", "nelly", "nelly@example.com",
                "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png")),
    Case("yandex", user({"id": "y-1", "login": "ylogin", "real_name": "Yan Dex", "default_email": "y@example.com",
                         "default_avatar_id": "1316/5244", "is_avatar_empty": False}),
         expect("y-1", "Yan Dex", "ylogin", "y@example.com", "https://avatars.yandex.net/get-yapic/1316/5244/islands-200")),
    Case("yandex", user({"id": "y-2", "login": "y2", "default_avatar_id": "0/0-0", "is_avatar_empty": True}),
         expect("y-2", username="y2", avatar=""), label="no-avatar"),
    Case("facebook", user({"id": "fb-1", "name": "Face Book", "email": "fb@example.com",
                           "picture": {"data": {"url": AV, "height": 200}}}),
         expect("fb-1", "Face Book", email="fb@example.com"), user_query="?fields=name,email,picture.type(large)"),
    Case("instagram2", user({"id": "ig-app-scoped", "user_id": "178414", "username": "insta", "name": "Insta Gram",
                             "profile_picture_url": AV}),
         expect("178414", "Insta Gram", "insta"), token_extra={"user_id": 178414, "permissions": "instagram_business_basic"}),
    Case("bitbucket", user({"uuid": "{bb-1}", "username": "bbu", "display_name": "Bit Bucket", "account_status": "active",
                            "links": {"avatar": {"href": AV}}},
                           user__emails=(200, {"values": [
                               {"email": "old@example.com", "is_primary": False, "is_confirmed": True},
                               {"email": "new@example.com", "is_primary": True, "is_confirmed": False},
                               {"email": "bb@example.com", "is_primary": True, "is_confirmed": True}]})),
         expect("{bb-1}", "Bit Bucket", "bbu", "bb@example.com")),
    Case("bitbucket", user({"uuid": "{bb-2}", "username": "bb2", "account_status": "active"},
                           user__emails=(403, {"error": {"message": "scope"}})),
         expect("{bb-2}", username="bb2", avatar=""), label="emails-refused"),
    Case("gitee", user({"id": 4242, "login": "gte", "name": "Gi Tee", "email": None, "avatar_url": AV},
                       emails=(200, [{"email": "second@example.com", "state": "confirmed", "scope": ["committed"]},
                                     {"email": "unconfirmed@example.com", "state": "unconfirmed", "scope": ["primary"]},
                                     {"email": "gt@example.com", "state": "confirmed", "scope": ["primary", "committed"]}])),
         expect("4242", "Gi Tee", "gte", "gt@example.com"), extra={"emailsURL": "{base}/shaped/emails"}),
    Case("gitee", user({"id": 43, "login": "pub", "email": "public@example.com"}),
         expect("43", username="pub", email="public@example.com", avatar=""), extra={"emailsURL": "{base}/shaped/emails"},
         label="public-email"),
    Case("gitea", user({"id": 7, "login": "gta", "full_name": "Gi Tea", "avatar_url": AV, "active": True},
                       user__emails=(200, [{"email": "x@example.com", "verified": True, "primary": False},
                                           {"email": "ga@example.com", "verified": True, "primary": True}])),
         expect("7", "Gi Tea", "gta", "ga@example.com")),
    Case("gitea", user({"id": 8, "login": "gt8", "active": True}, user__emails=(404, {"message": "not found"})),
         expect("8", username="gt8", avatar=""), label="emails-missing"),
    Case("twitter", user({"data": {"id": "tw-1", "name": "Twit Ter", "username": "tweety", "confirmed_email": "tw@example.com",
                                   "profile_image_url": AV}}),
         expect("tw-1", "Twit Ter", "tweety", "tw@example.com"), user_query="?user.fields=id,name"),
    Case("kakao", user({"id": 3141592653, "properties": {"nickname": "kko", "profile_image": AV},
                        "kakao_account": {"email": "kk@example.com", "is_email_valid": True, "is_email_verified": True}}),
         expect("3141592653", username="kko", email="kk@example.com"), token_extra={"token_type": "bearer"}),
    Case("kakao", user({"id": 2, "properties": {"nickname": "k2"},
                        "kakao_account": {"email": "k2@example.com", "is_email_valid": True, "is_email_verified": False}}),
         expect("2", username="k2", avatar=""), label="unverified"),
    Case("kakao", user({"id": 3, "properties": {"nickname": "k3"},
                        "kakao_account": {"email": "k3@example.com", "is_email_valid": False, "is_email_verified": True}}),
         expect("3", username="k3", avatar=""), label="invalid"),
    Case("vk", user({"response": [{"id": 99, "first_name": "Vee", "last_name": "Kay", "screen_name": "vk99", "photo_max": AV}]}),
         expect("99", "Vee Kay", "vk99", "vk@example.com"), token_extra={"email": "vk@example.com", "user_id": 99, "token_type": None, "id_token": None}),
    Case("linear", user({"data": {"viewer": {"id": "lin-1", "displayName": "lindn", "name": "Lin Ear",
                                             "email": "lin@example.com", "avatarUrl": AV, "active": True}}}),
         expect("lin-1", "Lin Ear", "lindn", "lin@example.com")),
    Case("notion", user({"object": "user", "id": "bot-1", "type": "bot",
                         "bot": {"owner": {"type": "user", "user": {"id": "no-1", "name": "No Tion", "avatar_url": AV,
                                                                    "person": {"email": "no@example.com"}}},
                                 "workspace_name": "Team"}}),
         expect("no-1", "No Tion", email="no@example.com"),
         # Notion's tokens do not expire and come without a refresh token
         token_extra={"token_type": "bearer", "expires_in": None, "refresh_token": None, "bot_id": "bot-1"}),
    Case("monday", user({"data": {"me": {"id": "77", "enabled": True, "name": "Mon Day", "email": "mo@example.com",
                                         "is_verified": True, "photo_small": AV}}, "account_id": 1}),
         expect("77", "Mon Day", email="mo@example.com")),
    Case("monday", user({"data": {"me": {"id": "78", "enabled": True, "name": "Un Verified", "email": "uv@example.com",
                                         "is_verified": False}}}),
         expect("78", "Un Verified", avatar=""), label="unverified"),
    Case("lark", user({"code": 0, "msg": "success", "data": {"union_id": "on_1", "open_id": "ou_1", "name": "La Rk",
                                                            "avatar_url": AV}}),
         expect("on_1", "La Rk")),
    Case("box", user({"type": "user", "id": "bx-1", "name": "Bo X", "login": "bx@example.com", "avatar_url": AV,
                      "status": "active"}),
         expect("bx-1", "Bo X", email="bx@example.com")),
    Case("spotify", user({"id": "sp-1", "display_name": "Spot Ify", "email": "unverified@example.com",
                          "images": [{"url": AV, "height": 300}, {"url": "https://cdn.example/small.png"}]}),
         expect("sp-1", "Spot Ify")),
    Case("trakt", user({"user": {"username": "trk", "name": "Tra Kt", "ids": {"slug": "trk", "uuid": "tr-uuid"},
                                 "images": {"avatar": {"full": AV}}}, "account": {"timezone": "UTC"}}),
         expect("tr-uuid", "Tra Kt", "trk")),
    Case("twitch", user({"data": [{"id": "tc-1", "login": "twl", "display_name": "Twitch Name", "email": "tc@example.com",
                                   "profile_image_url": AV}]}),
         expect("tc-1", "Twitch Name", "twl", "tc@example.com"),
         token_extra={"token_type": "bearer", "scope": ["user:read:email"]}),
    Case("patreon", user({"data": {"id": "pt-1", "type": "user",
                                   "attributes": {"full_name": "Pat Reon", "vanity": "patr", "email": "pt@example.com",
                                                  "image_url": AV, "is_email_verified": True}},
                          "links": {"self": "https://www.patreon.com/api/oauth2/v2/user/pt-1"}}),
         expect("pt-1", "Pat Reon", "patr", "pt@example.com"), user_query="?fields%5Buser%5D=full_name,email"),
    Case("patreon", user({"data": {"id": "pt-2", "attributes": {"full_name": "No Mail", "email": "nm@example.com",
                                                                 "is_email_verified": False}}}),
         expect("pt-2", "No Mail", avatar=""), label="unverified"),
    Case("strava", user({"id": 1234567, "firstname": "Stra", "lastname": "Va", "username": "strv", "profile": AV}),
         # an odd token type must not break the user-info call (it is sent as a bearer token)
         expect("1234567", "Stra Va", "strv"), token_extra={"token_type": "MAC"}),
    Case("wakatime", user({"data": {"id": "wk-1", "display_name": "Waka Time", "username": "wk", "email": "wk@example.com",
                                    "photo": AV, "photo_public": True, "is_email_confirmed": True}}),
         expect("wk-1", "Waka Time", "wk", "wk@example.com")),
    Case("wakatime", user({"data": {"id": "wk-2", "username": "wk2", "email": "wk2@example.com", "photo": AV,
                                    "photo_public": False, "is_email_confirmed": False}}),
         expect("wk-2", username="wk2", avatar=""), label="private"),
    Case("livechat", user({"account_id": "lc-1", "name": "Live Chat", "email": "lc@example.com", "email_verified": True,
                           "avatar_url": AV}),
         expect("lc-1", "Live Chat", email="lc@example.com")),
    Case("mailcow", user({"id": "mc-1", "username": "box@mail.example", "email": "box@mail.example",
                          "full_name": "Mail Cow", "active": 1}),
         expect("mc-1", "Mail Cow", "box", "box@mail.example", avatar="")),
    Case("planningcenter", user({"data": {"type": "Person", "id": "pc-1",
                                          "attributes": {"status": "active", "name": "Plan Center", "avatar": AV}}}),
         expect("pc-1", "Plan Center")),
]  # fmt: skip

#: (provider, user-info answer): accounts the provider reports as unusable must not sign in
REFUSED = [
    ("bitbucket", {"uuid": "{x}", "username": "x", "account_status": "closed"}),
    ("gitea", {"id": 9, "login": "x", "active": False}),
    ("linear", {"data": {"viewer": {"id": "l", "active": False}}}),
    ("monday", {"data": {"me": {"id": "m", "enabled": False}}}),
    ("box", {"id": "b", "login": "b@example.com", "status": "inactive"}),
    ("mailcow", {"id": "m", "username": "m", "active": 0}),
    ("planningcenter", {"data": {"id": "p", "attributes": {"status": "inactive"}}}),
    ("twitch", {"data": []}),
    ("vk", {"response": []}),
    ("strava", {"id": 0, "firstname": "No", "lastname": "Id"}),
]


def provider_entry(idp: LocalProvider, case: Case) -> dict[str, Any]:
    b = idp.base_url
    extra = {k: v.replace("{base}", b) if isinstance(v, str) else v for k, v in case.extra.items()}
    return {"name": case.provider, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "authURL": f"{b}/authorize", "tokenURL": f"{b}/token",
            "userInfoURL": f"{b}/shaped/user{case.user_query}", "extra": extra}  # fmt: skip


async def create_members(api: Api, entry: dict[str, Any]) -> None:
    # the e-mail is optional so that providers that share none can sign up
    email = {"name": "email", "type": "email", "system": True, "required": False}
    fields = [email, *({"name": name, "type": "text"} for name in MAPPED.values())]
    body = {"name": "members", "type": "auth", "fields": fields, "createRule": "",
            "oauth2": {"enabled": True, "mappedFields": MAPPED, "providers": [entry]}}  # fmt: skip
    res = await api.su("POST", "/api/collections", json=body)
    assert res.status_code == 200, res.text


async def sign_in(api: Api, name: str) -> tuple[dict[str, Any], httpx.Response]:
    methods = (await api.call("GET", "/api/collections/members/auth-methods")).json()
    [entry] = methods["oauth2"]["providers"]
    async with httpx.AsyncClient() as http:
        res = await http.get(entry["authURL"] + quote(REDIRECT, safe=""))
    if res.status_code == 200:  # Apple's form_post: the code comes in an auto-submitted form
        code = re.findall(r'name="code" value="([^"]+)"', res.text)[0]
    else:
        assert res.status_code == 302, res.text
        code = parse_qs(urlsplit(res.headers["location"]).query)["code"][0]
    body = {
        "provider": name,
        "code": code,
        "codeVerifier": entry["codeVerifier"],
        "redirectURL": REDIRECT,
    }
    return entry, await api.call("POST", "/api/collections/members/auth-with-oauth2", json=body)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_provider_maps_its_user(api: Api, idp: LocalProvider, case: Case) -> None:
    idp.shaped.update(case.answers)
    idp.token_extra.update(case.token_extra)
    await create_members(api, provider_entry(idp, case))
    entry, res = await sign_in(api, case.provider)
    assert res.status_code == 200, res.text
    meta, record = res.json()["meta"], res.json()["record"]
    got = {k: meta[k] for k in ("id", "name", "username", "email", "avatarURL")}
    assert got == case.expect
    assert meta["avatarUrl"] == case.expect["avatarURL"] and meta["isNew"] is True
    assert meta["accessToken"]
    if "expires_in" in case.token_extra:
        assert (meta["expiry"], meta["refreshToken"]) == ("", "")
    else:
        assert meta["expiry"].endswith("Z") and meta["refreshToken"]
    raw = dict(case.answers["user"][1])
    if case.provider == "instagram2":
        raw["permissions"] = "instagram_business_basic"  # copied from the token response
    assert meta["rawUser"] == raw
    mapped = {key: record[column] for key, column in MAPPED.items()}
    assert mapped == {
        "id": got["id"],
        "name": got["name"],
        "username": got["username"],
        "avatarURL": got["avatarURL"],
    }
    # verified because the record's e-mail is the provider's (both empty counts, as upstream)
    assert record["email"] == case.expect["email"] and record["verified"] is True
    user_call = next(c for c in idp.seen if c["path"] == "user")
    assert urlsplit(entry["authURL"]).path == "/authorize"
    if case.user_query:
        assert user_call["query"] == {k: v[0] for k, v in parse_qs(case.user_query[1:]).items()}
    # a second e-mail endpoint is asked exactly when the provider module has one to ask
    asked = sorted(c["path"] for c in idp.seen)
    assert asked == sorted(["user", *(p for p in case.answers if p != "user")])
    again_entry, again = await sign_in(api, case.provider)
    assert again.status_code == 200 and again.json()["record"]["id"] == record["id"], again.text
    assert again.json()["meta"]["isNew"] is False and again_entry["state"] != entry["state"]


@pytest.mark.parametrize(("name", "answer"), REFUSED, ids=[n for n, _ in REFUSED])
async def test_unusable_provider_account_is_refused(
    api: Api, idp: LocalProvider, name: str, answer: Any
) -> None:
    idp.shaped["user"] = (200, answer)
    idp.shaped["user/emails"] = (200, [])
    await create_members(api, provider_entry(idp, Case(name, {}, {})))
    _, res = await sign_in(api, name)
    assert res.status_code == 400 and res.json()["message"] == "Failed to fetch OAuth2 user.", (
        res.text
    )
    records = (await api.su("GET", "/api/collections/members/records")).json()
    assert records["totalItems"] == 0


async def test_provider_specific_requests(api: Api, idp: LocalProvider) -> None:
    """Headers, methods, bodies and token-endpoint authentication each provider's API needs."""
    by_name = {c.provider: c for c in reversed(CASES)}  # the first row of each provider
    expectations: dict[str, Any] = {
        "twitch": lambda call, auth: call["headers"]["client-id"] == CLIENT_ID and auth == "post",
        "trakt": lambda call, auth: (
            call["headers"]["trakt-api-key"] == CLIENT_ID
            and call["headers"]["trakt-api-version"] == "2"
        ),
        "notion": lambda call, auth: (
            call["headers"]["notion-version"] == "2022-06-28" and auth == "basic"
        ),
        "twitter": lambda call, auth: auth == "basic" and call["method"] == "GET",
        "linear": lambda call, auth: (
            call["method"] == "POST"
            and "viewer" in call["body"]
            and call["headers"]["content-type"] == "application/json"
        ),
        "monday": lambda call, auth: call["method"] == "POST" and "is_verified" in call["body"],
    }
    for name, check in expectations.items():
        case = by_name[name]
        idp.reset()
        idp.approve_as = "someone"
        idp.shaped.update(case.answers)
        await api.su("DELETE", "/api/collections/members")
        await create_members(api, provider_entry(idp, case))
        _, res = await sign_in(api, name)
        assert res.status_code == 200, res.text
        call = next(c for c in idp.seen if c["path"] == "user")
        assert call["headers"]["authorization"].startswith("Bearer ")
        assert check(call, idp.token_auth[-1]), (name, call, idp.token_auth)


async def test_pkce_defaults_follow_the_provider(api: Api, idp: LocalProvider) -> None:
    """Bitbucket, VK and Linear reject PKCE parameters; every other provider gets S256."""
    entries = [
        provider_entry(idp, Case(name, {}, {}))
        for name in ("bitbucket", "vk", "linear", "twitch", "gitee")
    ]
    res = await api.su("POST", "/api/collections", json={
        "name": "members", "type": "auth", "oauth2": {"enabled": True, "providers": entries}})  # fmt: skip
    assert res.status_code == 200, res.text
    methods = (await api.call("GET", "/api/collections/members/auth-methods")).json()
    pkce = {p["name"]: p["codeChallengeMethod"] for p in methods["oauth2"]["providers"]}
    assert pkce == {"bitbucket": "", "vk": "", "linear": "", "twitch": "S256", "gitee": "S256"}
    for p in methods["oauth2"]["providers"]:
        assert ("code_challenge=" in p["authURL"]) is bool(p["codeChallengeMethod"])


@pytest.mark.parametrize("verified", [True, "true", False])
async def test_apple_reads_the_signed_id_token(api: Api, idp: LocalProvider, verified: Any) -> None:
    idp.add_user("apple-1", "ap@example.com", verified=verified)
    entry = provider_entry(idp, Case("apple", {}, {}))
    entry["extra"] = {"jwksURL": f"{idp.base_url}/jwks", "issuer": idp.base_url}
    await create_members(api, entry)
    methods, res = await sign_in(api, "apple")
    assert "response_mode=form_post" in methods["authURL"]
    assert res.status_code == 200, res.text
    meta = res.json()["meta"]
    assert (meta["id"], meta["email"]) == ("apple-1", "ap@example.com" if verified else "")
    assert meta["rawUser"]["sub"] == "apple-1" and meta["rawUser"]["iss"] == idp.base_url
    assert idp.seen == []  # no user-info call: the ID token is the only source
