"""The dashboard at /_/: the built files, their headers, the client-route fallback, and the
first-run link that lets the dashboard create the first superuser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.core.auth.installer import INSTALLER_EMAIL, installer_token
from roost.core.superusers import manage_superuser
from roost.testing import TestApp, make_test_app


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestApp]:
    async with make_test_app(tmp_path) as app:
        yield app


def _asset(html: str, ext: str) -> str:
    found = re.search(rf'"(/_/assets/[^"]+\.{ext})"', html)
    assert found, f"no .{ext} asset in index.html"
    return found.group(1)


async def test_index_and_assets_are_served_with_their_headers(api: TestApp) -> None:
    res = await api.call("GET", "/_/")
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/html; charset=utf-8"
    assert res.headers["cache-control"] == "no-cache"
    csp = res.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert '<div id="app">' in res.text
    assert not re.search(r'(src|href)="(https?:)?//', res.text)  # nothing from elsewhere
    for ext, media_type in (("js", "text/javascript; charset=utf-8"), ("css", "text/css; charset=utf-8")):
        asset = await api.call("GET", _asset(res.text, ext))
        assert asset.status_code == 200
        assert asset.headers["content-type"] == media_type
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.content


@pytest.mark.parametrize("path", ["/_/login", "/_/collections", "/_/collections/posts", "/_/settings/mail"])
async def test_client_routes_fall_back_to_index(api: TestApp, path: str) -> None:
    index = await api.call("GET", "/_/")
    res = await api.call("GET", path)
    assert res.status_code == 200
    assert res.text == index.text
    assert res.headers["content-security-policy"] == index.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/_/assets/missing.js", "/_/assets/../../__init__.py", "/_/%2e%2e/__init__.py"])
async def test_missing_assets_and_escapes_are_404(api: TestApp, path: str) -> None:
    res = await api.call("GET", path)
    if res.status_code == 200:  # a non-asset path falls back to the app, never to a file outside it
        assert '<div id="app">' in res.text
    else:
        assert res.status_code == 404
        assert res.json()["status"] == 404
    assert "from __future__" not in res.text


async def test_bare_prefix_redirects_and_writes_are_refused(api: TestApp) -> None:
    res = await api.call("GET", "/_")
    assert res.status_code == 301 and res.headers["location"] == "/_/"
    post = await api.call("POST", "/_/")
    assert post.status_code == 404


async def test_first_run_token_creates_one_superuser_then_dies(api: TestApp) -> None:
    assert await installer_token(api.app) is None  # a real superuser exists
    await manage_superuser(api.app, "delete", "su@example.com", "")
    token = await installer_token(api.app)
    assert token
    assert await installer_token(api.app) is not None  # the same placeholder is reused
    listed = await api.call("GET", "/api/collections/_superusers/records", token=token)
    assert [r["email"] for r in listed.json()["items"]] == [INSTALLER_EMAIL]
    refreshed = await api.call("POST", "/api/collections/_superusers/auth-refresh", token=token)
    assert refreshed.status_code == 200 and refreshed.json()["token"] == token  # never extended

    body = {"email": "first@example.com", "password": "first-password", "passwordConfirm": "first-password"}
    created = await api.call("POST", "/api/collections/_superusers/records", token=token, json=body)
    assert created.status_code == 200, created.text
    first = await api.login("_superusers", "first@example.com", "first-password")
    placeholder = listed.json()["items"][0]["id"]
    gone = await api.call("DELETE", f"/api/collections/_superusers/records/{placeholder}", token=first)
    assert gone.status_code == 204
    assert await installer_token(api.app) is None
    after = await api.call("GET", "/api/collections/_superusers/records", token=token)
    assert after.status_code == 403  # the token no longer authenticates anyone
    refused = await api.call("POST", "/api/collections/_superusers/auth-refresh", token=token)
    assert refused.status_code == 401


async def test_a_placeholder_left_behind_goes_once_a_real_superuser_exists(api: TestApp) -> None:
    await manage_superuser(api.app, "delete", "su@example.com", "")
    token = await installer_token(api.app)
    assert token
    await manage_superuser(api.app, "upsert", "cli@example.com", "cli-password-1")  # made another way
    assert await installer_token(api.app) is None
    first = await api.login("_superusers", "cli@example.com", "cli-password-1")
    listed = await api.call("GET", "/api/collections/_superusers/records", token=first)
    assert [r["email"] for r in listed.json()["items"]] == ["cli@example.com"]
    assert (await api.call("GET", "/api/collections/_superusers/records", token=token)).status_code == 403
