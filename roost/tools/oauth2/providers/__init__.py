"""The registry of OAuth2 providers: one module per provider, each registering its spec.

``get(name)`` finds a provider by the name used in a collection's ``oauth2.providers``;
``all_specs()`` lists them in catalogue order (``order``, then name), as the reference server
lists them.
"""

from __future__ import annotations

from roost.tools.oauth2.providers import (
    apple,
    bitbucket,
    box,
    discord,
    facebook,
    gitea,
    gitee,
    github,
    gitlab,
    google,
    instagram,
    kakao,
    lark,
    linear,
    livechat,
    mailcow,
    microsoft,
    monday,
    notion,
    oidc,
    patreon,
    planningcenter,
    spotify,
    strava,
    trakt,
    twitch,
    twitter,
    vk,
    wakatime,
    yandex,
)
from roost.tools.oauth2.providers.base import AuthUser, ProviderConfig, ProviderSpec

_BUILTIN_MODULES = (
    apple, google, microsoft, yandex, facebook, instagram, github, gitlab, bitbucket, gitee,
    gitea, discord, twitter, kakao, vk, linear, notion, monday, lark, box, spotify, trakt,
    twitch, patreon, strava, wakatime, livechat, mailcow, planningcenter, oidc,
)  # fmt: skip

_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    """Add (or replace) a provider; user code may register its own."""
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> ProviderSpec | None:
    _load_builtins()
    return _REGISTRY.get(name)


def all_specs() -> list[ProviderSpec]:
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.order, spec.name))


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        for spec in module.SPECS:
            _REGISTRY.setdefault(spec.name, spec)


__all__ = ["AuthUser", "ProviderConfig", "ProviderSpec", "all_specs", "get", "register"]
