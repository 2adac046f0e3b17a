"""The registry of OAuth2 providers: one module per provider, each registering its spec.

``get(name)`` finds a provider by the name used in a collection's ``oauth2.providers``.
"""

from __future__ import annotations

from roost.core.auth.providers.base import AuthUser, ProviderConfig, ProviderSpec

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
    return list(_REGISTRY.values())


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from roost.core.auth.providers import apple, discord, github, gitlab, google, microsoft, oidc

    for module in (apple, google, microsoft, github, gitlab, discord, oidc):
        for spec in module.SPECS:
            _REGISTRY.setdefault(spec.name, spec)


__all__ = ["AuthUser", "ProviderConfig", "ProviderSpec", "all_specs", "get", "register"]
