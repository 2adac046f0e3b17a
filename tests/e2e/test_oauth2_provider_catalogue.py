"""Roost and the reference server offer the same OAuth2 providers: the catalogue, the
auth-methods answer (what the SDK's ``listAuthMethods`` reads) and the names a collection's
``oauth2.providers`` accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import launch
from .servers import LiveServer

SELF_HOSTED = {"oidc", "oidc2", "oidc3", "mailcow"}  # no default endpoints


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LiveServer]]:
    started = {kind: launch(kind) for kind in ("pocketbase", "roost")}
    yield started
    for live in started.values():
        live.stop()


def call(live: LiveServer, method: str, url: str, **kwargs: Any) -> Any:
    with live.client(headers={"Authorization": live.superuser_token()}) as http:
        return http.request(method, url, **kwargs)


def catalogue(live: LiveServer) -> list[dict[str, Any]]:
    res = call(live, "GET", "/api/collections/meta/oauth2-providers")
    assert res.status_code == 200, res.text
    items: list[dict[str, Any]] = res.json()
    return items


def provider_entry(name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "clientId": "client-1", "clientSecret": "secret-1"}
    if name in SELF_HOSTED:
        entry.update(authURL="https://sso.example.com/authorize", tokenURL="https://sso.example.com/token",
                     userInfoURL="https://sso.example.com/userinfo")  # fmt: skip
    return entry


def auth_methods_with_every_provider(live: LiveServer, names: list[str]) -> list[dict[str, Any]]:
    body = {"oauth2": {"enabled": True, "providers": [provider_entry(n) for n in names]}}
    res = call(live, "PATCH", "/api/collections/users", json=body)
    assert res.status_code == 200, res.text
    with live.client() as http:
        methods = http.get("/api/collections/users/auth-methods").json()
    providers: list[dict[str, Any]] = methods["oauth2"]["providers"]
    return providers


def comparable(entry: dict[str, Any]) -> dict[str, Any]:
    """An auth-methods entry without its random parts (state, PKCE pair)."""
    url = urlsplit(entry["authURL"])
    query = parse_qs(url.query, keep_blank_values=True)
    for random_part in ("state", "code_challenge"):
        query.pop(random_part, None)
    return {
        "name": entry["name"], "displayName": entry["displayName"],
        "pkce": entry["codeChallengeMethod"], "verifier": len(entry["codeVerifier"]),
        "endpoint": f"{url.scheme}://{url.netloc}{url.path}", "query": query,
        "redirect": entry["authURL"].endswith("&redirect_uri="),
    }  # fmt: skip


def test_catalogue_lists_the_same_providers_in_the_same_order(
    servers: dict[str, LiveServer],
) -> None:
    reference, roost = (catalogue(servers[k]) for k in ("pocketbase", "roost"))
    assert [(p["name"], p["displayName"]) for p in roost] == [
        (p["name"], p["displayName"]) for p in reference
    ]
    assert len(roost) == 32
    assert all(set(p) == {"name", "displayName", "logo"} for p in roost)
    assert all(p["logo"].startswith("<svg") for p in roost)


def test_auth_methods_offer_every_provider_alike(servers: dict[str, LiveServer]) -> None:
    names = [p["name"] for p in catalogue(servers["pocketbase"])]
    reference, roost = (
        auth_methods_with_every_provider(servers[k], names) for k in ("pocketbase", "roost")
    )
    assert [comparable(p) for p in roost] == [comparable(p) for p in reference]
    assert [p["name"] for p in roost] == names


@pytest.mark.parametrize("name", ["instagram", "x", "OIDC", "github "])
def test_unknown_provider_names_are_refused_alike(
    servers: dict[str, LiveServer], name: str
) -> None:
    body = {"oauth2": {"enabled": True, "providers": [provider_entry(name)]}}
    answers = {
        k: call(live, "PATCH", "/api/collections/users", json=body) for k, live in servers.items()
    }
    codes = {
        k: (res.status_code, res.json()["data"]["oauth2"]["providers"]["0"]["name"]["code"])
        for k, res in answers.items()
    }
    assert codes["roost"] == codes["pocketbase"] == (400, "validation_missing_provider")
