"""The GraphiQL page at ``GET /api/graphql`` (for browsers), its vendored assets, and what an HTTP
subscription gets."""

from __future__ import annotations

import pytest

from roost.apis.graphql.graphiql import ASSETS
from tests.conftest import Api

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_a_browser_gets_the_page_and_clients_get_graphql(api: Api) -> None:
    page = await api.call("GET", "/api/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ASSETS:
        assert f'src="/api/graphql/static/{name}"' in page.text or f'href="/api/graphql/static/{name}"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for accept in ("application/json", "*/*", "", "application/graphql-response+json, text/html;q=0.5"):
        res = await api.call("GET", "/api/graphql", headers={"Accept": accept})
        assert res.status_code == 400 and res.json()["errors"][0]["message"] == "The request has no GraphQL query.", accept
    query = await api.call("GET", "/api/graphql", params={"query": "{ __typename }"}, headers={"Accept": BROWSER})
    assert query.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(("name", "kind"), sorted(ASSETS.items()))
async def test_assets_are_served_with_their_content_types(api: Api, name: str, kind: str) -> None:
    res = await api.call("GET", f"/api/graphql/static/{name}")
    assert res.status_code == 200 and res.headers["content-type"] == kind
    assert res.headers["x-content-type-options"] == "nosniff" and len(res.content) > 500
    assert b"sourceMappingURL" not in res.content[-300:]


async def test_only_the_pages_files_are_served(api: Api) -> None:
    for name in ("LICENSE.graphiql", "README.md", "page.html", "..%2F__init__.py", "nope.js"):
        res = await api.call("GET", f"/api/graphql/static/{name}")
        assert res.status_code == 404, name


async def test_a_subscription_over_http_is_refused_with_where_to_send_it(api: Api) -> None:
    await api.create_collection({"name": "notes", "listRule": "", "viewRule": "", "fields": [{"name": "title", "type": "text"}]})
    for method, kwargs in (("POST", {"json": {"query": "subscription { notes { action } }"}}),
                           ("GET", {"params": {"query": "subscription { notes { action } }"}})):  # fmt: skip
        res = await api.call(method, "/api/graphql", **kwargs)
        assert res.status_code == 400, res.text
        (error,) = res.json()["errors"]
        assert error["extensions"] == {"status": 400, "code": "bad_request"} and "WebSocket" in error["message"]
