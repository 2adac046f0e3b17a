"""Custom routes from hooks files and from ``Roost.route``: path parameters, auth helpers, rules,
the record services, and the same middleware, errors and OpenAPI entry as built-in routes."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.config import Config
from roost.hooks import RouteEvent
from roost.testing import TestApp, make_test_app

POSTS = {
    "name": "posts",
    "listRule": "",
    "viewRule": "",
    "createRule": "@request.auth.id != ''",
    "fields": [{"name": "title", "type": "text"}, {"name": "owner", "type": "text"}],
}
ROUTES = '''
from roost.hooks import BadRequest, FieldError, RouteEvent, app


@app.route("GET", "/api/hello/{name}")
async def hello(e: RouteEvent) -> dict[str, str]:
    """Greets the signed-in caller."""
    auth = e.require_auth()
    return {"message": f"Hello {e.params['name']}", "email": auth["email"]}


@app.route("GET", "/api/admin/ping")
async def admin_ping(e: RouteEvent) -> dict[str, bool]:
    e.require_superuser()
    return {"pong": True}


@app.route("GET", "/api/verified/ping")
async def verified_ping(e: RouteEvent) -> dict[str, bool]:
    await e.require_rule("@request.auth.verified = true")
    return {"pong": True}


@app.route(["POST"], "/api/posts/quick")
async def quick_post(e: RouteEvent) -> dict[str, object]:
    body = await e.body()
    posts = e.records("posts")
    created = await posts.create({"title": body.get("title", ""), "owner": e.info.auth_id})
    return (await posts.present([created]))[0]


@app.route("GET", "/api/posts/{id}/title")
async def post_title(e: RouteEvent) -> dict[str, str]:
    await e.require_rule("owner = @request.auth.id", collection="posts", record_id=e.params["id"])
    return {"title": (await e.records("posts").view(e.params["id"]))["title"]}


@app.route("GET", "/api/stats/{collection}", tags=["stats"])
async def stats(e: RouteEvent) -> dict[str, int]:
    page = await e.records(e.params["collection"]).list(per_page=1)
    return {"total": page.total_items}


@app.route("GET", "/api/refuse")
async def refuse(e: RouteEvent) -> None:
    raise BadRequest("Nope.", {"name": FieldError("bad_name", "Not this one.")})


@app.route("DELETE", "/api/nothing")
def nothing(e: RouteEvent) -> None:
    return None
'''


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestApp]:
    hooks = tmp_path / "roost_hooks"
    hooks.mkdir()
    (hooks / "routes.py").write_text(textwrap.dedent(ROUTES))
    async with make_test_app(tmp_path / "data", collections=[POSTS]) as test_app:
        for email, verified in (("ann@example.com", True), ("bob@example.com", False)):
            await test_app.create_record("users", {"email": email, "password": "password123",
                                                   "passwordConfirm": "password123", "verified": verified})
        yield test_app


async def tokens(api: TestApp) -> dict[str, str]:
    return {name: await api.login("users", f"{name}@example.com", "password123") for name in ("ann", "bob")}


async def test_path_parameters_and_auth_helpers(api: TestApp) -> None:
    ann = (await tokens(api))["ann"]
    res = await api.call("GET", "/api/hello/world", token=ann)
    assert res.status_code == 200
    assert res.json() == {"message": "Hello world", "email": "ann@example.com"}

    guest = await api.call("GET", "/api/hello/world")
    assert guest.status_code == 401
    assert guest.json() == {"status": 401, "message": "The request requires valid record authorization token.", "data": {}}

    assert (await api.call("GET", "/api/admin/ping", token=ann)).status_code == 403
    assert (await api.call("GET", "/api/admin/ping")).status_code == 401
    assert (await api.su("GET", "/api/admin/ping")).json() == {"pong": True}


@pytest.mark.parametrize(("who", "status"), [("ann", 200), ("bob", 403), ("guest", 401), ("su", 200)])
async def test_rule_checks_run_through_the_rule_engine(api: TestApp, who: str, status: int) -> None:
    token = {**(await tokens(api)), "guest": "", "su": api.su_token}[who]
    assert (await api.call("GET", "/api/verified/ping", token=token)).status_code == status


async def test_record_services_act_as_the_caller(api: TestApp) -> None:
    ann, bob = (await tokens(api)).values()
    assert (await api.call("POST", "/api/posts/quick", json={"title": "x"})).status_code == 400  # createRule
    res = await api.call("POST", "/api/posts/quick", token=ann, json={"title": "mine"})
    assert res.status_code == 200, res.text
    post = res.json()
    assert post["title"] == "mine" and post["collectionName"] == "posts"

    assert (await api.call("GET", f"/api/posts/{post['id']}/title", token=ann)).json() == {"title": "mine"}
    assert (await api.call("GET", f"/api/posts/{post['id']}/title", token=bob)).status_code == 403
    assert (await api.call("GET", "/api/stats/posts")).json() == {"total": 1}
    assert (await api.call("GET", "/api/stats/missing")).status_code == 404


async def test_errors_leave_in_pocketbase_shape(api: TestApp) -> None:
    res = await api.call("GET", "/api/refuse")
    assert res.status_code == 400
    assert res.json() == {"status": 400, "message": "Nope.", "data": {"name": {"code": "bad_name", "message": "Not this one."}}}
    assert (await api.call("DELETE", "/api/nothing")).status_code == 204
    wrong_method = await api.call("POST", "/api/hello/x")
    assert wrong_method.status_code == 404 and wrong_method.json()["status"] == 404


async def test_cors_and_rate_limits_apply(api: TestApp) -> None:
    res = await api.call("GET", "/api/stats/posts", headers={"Origin": "http://app.example"})
    assert res.headers["access-control-allow-origin"] == "*"
    assert res.headers["x-content-type-options"] == "nosniff"

    rules = [{"label": "GET /api/hello/", "audience": "", "duration": 60, "maxRequests": 2},
             {"label": "posts:stats", "audience": "", "duration": 60, "maxRequests": 1}]
    res = await api.su("PATCH", "/api/settings", json={"rateLimits": {"enabled": True, "rules": rules}})
    assert res.status_code == 200, res.text
    ann = (await tokens(api))["ann"]
    assert [(await api.call("GET", f"/api/hello/{n}", token=ann)).status_code for n in range(3)] == [200, 200, 429]
    assert [(await api.call("GET", "/api/stats/posts")).status_code for _ in range(2)] == [200, 429]
    assert (await api.call("GET", "/api/stats/users")).status_code == 200  # counted per collection


async def test_custom_routes_appear_in_the_openapi_document(api: TestApp) -> None:
    paths = (await api.su("GET", "/api/openapi.json")).json()["paths"]
    hello = paths["/api/hello/{name}"]["get"]
    assert hello["summary"] == "Greets the signed-in caller."
    assert hello["parameters"][0]["name"] == "name" and hello["parameters"][0]["in"] == "path"
    assert paths["/api/posts/quick"]["post"]["tags"] == ["custom"]

    assert api.roost is not None

    @api.roost.route("GET", "/api/late/{id}")
    async def late(e: RouteEvent) -> dict[str, str]:
        """Added while serving."""
        return {"id": e.params["id"]}

    assert (await api.call("GET", "/api/late/7")).json() == {"id": "7"}
    paths = (await api.su("GET", "/api/openapi.json")).json()["paths"]
    assert paths["/api/late/{id}"]["get"]["summary"] == "Added while serving."


def test_hooks_dir_defaults_beside_the_data_dir(tmp_path: Path) -> None:
    assert Config(data_dir=tmp_path / "data").hooks_path == tmp_path / "roost_hooks"
    assert Config(data_dir=tmp_path / "data", hooks_dir=tmp_path / "x").hooks_path == tmp_path / "x"
    assert (Config().watch_hooks, Config(dev=True).watch_hooks, Config(dev=True, hooks_watch=False).watch_hooks) == (
        False, True, False)

