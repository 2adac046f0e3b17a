"""Contract checks every registered OAuth2 provider spec must pass."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from roost.tools.oauth2 import providers as registry
from roost.tools.oauth2.providers.base import ProviderSpec

SELF_HOSTED = {"oidc", "oidc2", "oidc3", "mailcow"}
SPECS = registry.all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_spec_is_complete(spec: ProviderSpec) -> None:
    assert registry.get(spec.name) is spec
    assert spec.display_name and spec.logo.startswith("<svg") and spec.order > 0
    assert spec.token_auth_method in ("client_secret_post", "client_secret_basic")
    urls = (spec.auth_url, spec.token_url, spec.userinfo_url)
    if spec.name in SELF_HOSTED:
        assert urls == ("", "", "")
    else:
        assert all(urlsplit(u).scheme == "https" and urlsplit(u).netloc for u in urls if u)
        assert spec.auth_url and spec.token_url
        assert spec.userinfo_url or spec.name == "apple"  # Apple's user is its ID token


def test_catalogue_order_is_stable_and_names_unique() -> None:
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names)) == 32
    orders = [s.order for s in SPECS if not s.name.startswith("oidc")]
    assert len(orders) == len(set(orders))  # only the three oidc entries tie (and sort by name)
    assert names[:3] == ["apple", "google", "microsoft"] and names[-3:] == [
        "oidc",
        "oidc2",
        "oidc3",
    ]
    assert [s.name for s in SPECS if not s.pkce] == ["bitbucket", "vk", "linear"]
