"""/api/graphql: mutations through REST's services, errors in GraphQL's shape, auth, schema rebuilds."""

from __future__ import annotations

from typing import Any

import pytest

from roost.testing.hooks import HookRecorder
from tests.conftest import Api
from tests.graphql_world import PASSWORD, seed

URL = "/api/graphql"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def gql(api: Api, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    res = await api.call("POST", URL, token=token, json={"query": query, "variables": variables})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


async def test_create_fires_the_same_hooks_as_rest_and_returns_the_presented_record(api: Api) -> None:
    world = await seed(api)
    owner = world.tokens["owner"]
    body = {"title": "via", "n": 3, "tags": ["a"], "author": world.ids["owner"], "secret": "x"}
    with HookRecorder(api.app) as rest_hooks:
        rest = await api.call("POST", "/api/collections/posts/records?expand=author", token=owner, json=body)
        await api.app.realtime.drain()
    assert rest.status_code == 200, rest.text
    with HookRecorder(api.app) as graphql_hooks:
        answer = await gql(api, "mutation($d: JSON!) { createPosts(data: $d) { id title n tags secret authorId author { name } } }", owner, d=body)
        await api.app.realtime.drain()
    assert graphql_hooks.names() == rest_hooks.names() and "on_record_create_request" in rest_hooks.names()
    created = answer["data"]["createPosts"]
    assert created["title"] == "via" and created["n"] == 3 and created["secret"] is None  # hidden from its owner too
    assert created["author"] == {"name": "Owner"} and created["authorId"] == world.ids["owner"]
    # stored exactly as the REST create stored the same body (hidden field handling included)
    stored = (await api.su("GET", f"/api/collections/posts/records/{created['id']}")).json()
    via_rest = (await api.su("GET", f"/api/collections/posts/records/{rest.json()['id']}")).json()
    assert {k: v for k, v in stored.items() if k not in ("id", "created")} == {k: v for k, v in via_rest.items() if k not in ("id", "created")}
    assert stored["tags"] == ["a"] and stored["n"] == 3


async def test_validation_errors_keep_roosts_field_codes(api: Api) -> None:
    world = await seed(api)
    rest = await api.call("POST", "/api/collections/posts/records", token=world.tokens["owner"], json={"n": 1})
    answer = await gql(api, "mutation { createPosts(data: {n: 1}) { id } }", world.tokens["owner"])
    (error,) = answer["errors"]
    assert answer["data"] == {"createPosts": None} and error["path"] == ["createPosts"]
    assert error["message"] == rest.json()["message"]
    assert error["extensions"] == {"status": 400, "code": "bad_request", "data": rest.json()["data"]}
    assert error["extensions"]["data"]["title"]["code"] == "validation_required"


async def test_rules_guard_mutations_as_they_guard_rest(api: Api) -> None:
    world = await seed(api)
    guest = await gql(api, 'mutation { createPosts(data: {title: "x"}) { id } }')
    assert guest["errors"][0]["extensions"]["status"] == 400 and guest["errors"][0]["message"] == "Failed to create record."
    other = await gql(api, 'mutation($id: String!) { updatePosts(id: $id, data: {title: "mine"}) { id } }', world.tokens["other"], id=world.ids["p1"])
    assert other["errors"][0]["extensions"]["status"] == 404
    deleted = await gql(api, "mutation($id: String!) { deletePosts(id: $id) }", world.tokens["owner"], id=world.ids["p1"])
    assert deleted == {"data": {"deletePosts": True}}
    assert (await api.su("GET", f"/api/collections/posts/records/{world.ids['p1']}")).status_code == 404


async def test_update_takes_rests_modifiers(api: Api) -> None:
    world = await seed(api)
    query = "mutation($id: String!, $d: JSON!) { updatePosts(id: $id, data: $d) { n tags editorsId } }"
    answer = await gql(api, query, world.tokens["owner"], id=world.ids["p1"], d={"n+": 10, "tags+": "c", "tags-": "a", "editors-": world.ids["owner"]})
    assert answer == {"data": {"updatePosts": {"n": 11, "tags": ["c"], "editorsId": [world.ids["other"]]}}}


async def test_get_serves_queries_and_refuses_mutations(api: Api) -> None:
    world = await seed(api)
    res = await api.call("GET", URL, params={"query": "query($id: String!) { posts(id: $id) { title } }", "variables": f'{{"id": "{world.ids["p1"]}"}}'})
    assert res.status_code == 200 and res.json() == {"data": {"posts": {"title": "post p1"}}}
    res = await api.call("GET", URL, token=world.tokens["owner"], params={"query": f'mutation {{ deletePosts(id: "{world.ids["p1"]}") }}'})
    assert res.status_code == 405 and res.json()["errors"][0]["extensions"]["status"] == 405
    assert (await api.su("GET", f"/api/collections/posts/records/{world.ids['p1']}")).status_code == 200


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "The request body is not valid JSON."),
    (b'{"variables": {}}', "The request has no GraphQL query."),
    (b'["query"]', "Send a JSON object with a query."),
    (b'{"query": "{ __typename }", "variables": [1]}', "The variables must be a JSON object."),
])  # fmt: skip
async def test_malformed_requests_answer_400_in_graphql_shape(api: Api, body: bytes, message: str) -> None:
    res = await api.call("POST", URL, content=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and res.json() == {"errors": [{"message": message, "extensions": {"status": 400, "code": "bad_request"}}]}


async def test_syntax_and_schema_errors_are_graphql_errors(api: Api) -> None:
    await seed(api)
    syntax = await gql(api, "{ postsList { items { id }")
    assert syntax["errors"][0]["extensions"] == {"status": 400, "code": "graphql_parse"} and "data" not in syntax
    unknown = await gql(api, "{ postsList { items { nope } } }")
    assert "Cannot query field 'nope'" in unknown["errors"][0]["message"]
    assert unknown["errors"][0]["extensions"]["code"] == "graphql_validation"
    bad_filter = await gql(api, '{ postsList(filter: "n >") { totalItems } }')
    assert bad_filter["errors"][0]["extensions"]["status"] == 400 and bad_filter["data"] is None


async def test_schema_follows_collection_changes(api: Api) -> None:
    await seed(api)
    assert "Cannot query field 'mood'" in (await gql(api, "{ commentsList { items { mood } } }"))["errors"][0]["message"]
    fields = (await api.su("GET", "/api/collections/comments")).json()["fields"]
    res = await api.su("PATCH", "/api/collections/comments", json={"fields": [*fields, {"name": "mood", "type": "number"}]})
    assert res.status_code == 200, res.text
    await api.create_record("comments", {"body": "new", "mood": 7})
    answer = await gql(api, '{ commentsList(filter: "mood > 0") { items { body mood } } }')
    assert answer == {"data": {"commentsList": {"items": [{"body": "new", "mood": 7}]}}}
    assert (await api.su("DELETE", "/api/collections/vault")).status_code == 204
    assert "Cannot query field 'vaultList'" in (await gql(api, "{ vaultList { totalItems } }", api.su_token))["errors"][0]["message"]


async def test_files_are_urls_with_an_optional_thumb(api: Api) -> None:
    await seed(api)
    res = await api.su("POST", "/api/collections", json={"name": "pics", "listRule": "", "viewRule": "", "fields": [
        {"name": "one", "type": "file", "maxSelect": 1}, {"name": "many", "type": "file", "maxSelect": 3}]})  # fmt: skip
    assert res.status_code == 200, res.text
    files = [("one", ("a.txt", b"a", "text/plain")), ("many", ("b.txt", b"b", "text/plain")), ("many", ("c.txt", b"c", "text/plain"))]
    rec = (await api.su("POST", "/api/collections/pics/records", files=files)).json()
    answer = await gql(api, '{ picsList { items { id one many small: one(thumb: "100x100") } } }')
    (item,) = answer["data"]["picsList"]["items"]
    base = f"http://roost.test/api/files/{rec['collectionId']}/{rec['id']}/"
    assert item["one"] == base + rec["one"] and item["small"] == base + rec["one"] + "?thumb=100x100"
    assert item["many"] == [base + name for name in rec["many"]]
    downloaded = await api.call("GET", item["many"][1].removeprefix("http://roost.test"))
    assert downloaded.status_code == 200 and downloaded.content == b"c"


async def test_a_session_cookie_authenticates_and_posts_need_the_csrf_token(api: Api) -> None:
    await seed(api)
    res = await api.su("PATCH", "/api/collections/users", json={"cookieSessions": {"enabled": True}})
    assert res.status_code == 200, res.text
    login = await api.call("POST", "/api/collections/users/auth-with-password?session=cookie", json={"identity": "owner@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie, csrf = login.cookies["__Host-roost_session"], login.json()["csrfToken"]
    api.client.cookies.clear()
    query = '{ postsList(filter: "public = false") { items { title } } }'
    headers = {"Cookie": f"__Host-roost_session={cookie}", "Origin": "http://roost.test"}
    res = await api.call("POST", URL, json={"query": query}, headers={**headers, "X-CSRF-Token": csrf})
    assert res.json() == {"data": {"postsList": {"items": [{"title": "post p2"}]}}}
    res = await api.call("GET", URL, params={"query": query}, headers=headers)
    assert res.json() == {"data": {"postsList": {"items": [{"title": "post p2"}]}}}
    res = await api.call("POST", URL, json={"query": query}, headers=headers)
    assert res.status_code == 403 and res.json()["errors"][0]["extensions"]["status"] == 403


async def test_password_login_and_refresh_are_rests_flows(api: Api) -> None:
    world = await seed(api)
    query = 'mutation { authWithUsersPassword(identity: "owner@example.com", password: "%s") { token record { id email name } } }'
    with HookRecorder(api.app) as rest_hooks:
        rest = await api.call("POST", "/api/collections/users/auth-with-password", json={"identity": "owner@example.com", "password": PASSWORD})
    with HookRecorder(api.app) as graphql_hooks:
        answer = await gql(api, query % PASSWORD)
    assert rest.status_code == 200 and graphql_hooks.names() == rest_hooks.names() and "on_record_auth_with_password_request" in rest_hooks.names()
    login = answer["data"]["authWithUsersPassword"]
    assert login["record"] == {"id": world.ids["owner"], "email": "owner@example.com", "name": "Owner"}  # own e-mail shown
    as_owner = [(await api.call("GET", "/api/collections/posts/records", token=t)).json()["totalItems"] for t in (login["token"], world.tokens["owner"])]
    assert as_owner[0] == as_owner[1] == 4
    wrong = await gql(api, query % "wrong-password")
    rest_wrong = await api.call("POST", "/api/collections/users/auth-with-password", json={"identity": "owner@example.com", "password": "wrong-password"})
    assert wrong["errors"][0]["message"] == rest_wrong.json()["message"] and wrong["errors"][0]["extensions"]["status"] == rest_wrong.status_code
    refreshed = await gql(api, "mutation { authRefreshUsers { token record { id } } }", login["token"])
    assert refreshed["data"]["authRefreshUsers"]["record"] == {"id": world.ids["owner"]} and refreshed["data"]["authRefreshUsers"]["token"]
    guest = await gql(api, "mutation { authRefreshUsers { token } }")
    assert guest["errors"][0]["extensions"]["status"] == 401


async def test_rate_limit_rules_count_graphql_operations_under_their_collection_tags(api: Api) -> None:
    world = await seed(api)
    limits = {"enabled": True, "rules": [{"label": "posts:create", "audience": "", "duration": 60, "maxRequests": 1}]}
    assert (await api.su("PATCH", "/api/settings", json={"rateLimits": limits})).status_code == 200
    create = 'mutation { createPosts(data: {title: "t"}) { title } }'
    assert await gql(api, create, world.tokens["owner"]) == {"data": {"createPosts": {"title": "t"}}}
    refused = await gql(api, create, world.tokens["owner"])
    assert refused["errors"][0]["extensions"]["status"] == 429 and refused["data"] == {"createPosts": None}
    assert "errors" not in await gql(api, "{ postsList { totalItems } }", world.tokens["owner"])


async def test_typed_inputs_spell_rests_body_and_modifiers(api: Api) -> None:
    world = await seed(api)
    owner = world.tokens["owner"]
    create = "mutation($i: PostsCreateInput!) { createPosts(input: $i) { id title n tags loc { lon lat } editorsId } }"
    made = await gql(api, create, owner, i={"title": "typed", "n": 2, "tags": ["a"], "loc": {"lon": 1, "lat": 2}, "editors": [world.ids["other"]], "author": world.ids["owner"]})
    post = made["data"]["createPosts"]
    assert post["title"] == "typed" and post["n"] == 2 and post["loc"] == {"lon": 1, "lat": 2} and post["editorsId"] == [world.ids["other"]]
    update = "mutation($id: String!, $i: PostsUpdateInput!) { updatePosts(id: $id, input: $i) { n tags editorsId } }"
    changed = await gql(api, update, owner, id=post["id"], i={"n_add": 5, "tags_append": ["c"], "tags_prepend": ["b"], "tags_remove": ["a"], "editors_append": [world.ids["owner"]]})
    assert changed == {"data": {"updatePosts": {"n": 7, "tags": ["b", "c"], "editorsId": [world.ids["other"], world.ids["owner"]]}}}
    missing = await gql(api, "mutation { createPosts(input: {n: 1}) { id } }", owner)
    assert "required field 'title'" in missing["errors"][0]["message"] and missing["errors"][0]["extensions"]["code"] == "graphql_validation"
    both = await gql(api, 'mutation { createPosts(data: {title: "a"}, input: {title: "a"}) { id } }', owner)
    assert both["errors"][0]["message"] == "Give either data or input."
    invalid = await gql(api, 'mutation { createPosts(input: {title: "x", tags: ["nope"]}) { id } }', owner)
    assert invalid["errors"][0]["extensions"]["data"]["tags"]["code"] == "validation_invalid_value"


async def test_cursor_pages_are_rests_keyset_pages(api: Api) -> None:
    await seed(api)
    query = "query($c: String!) { postsList(sort: \"-n\", perPage: 4, cursor: $c) { page totalItems nextCursor items { title } } }"
    first = (await gql(api, query, api.su_token, c=""))["data"]["postsList"]
    rest = (await api.su("GET", "/api/collections/posts/records", params={"sort": "-n", "perPage": 4, "cursor": ""})).json()
    assert [i["title"] for i in first["items"]] == [i["title"] for i in rest["items"]] == ["post p6", "post p5", "post p4", "post p3"]
    assert first["page"] == rest["page"] == -1 and first["nextCursor"]
    second = (await gql(api, query, api.su_token, c=first["nextCursor"]))["data"]["postsList"]
    assert [i["title"] for i in second["items"]] == ["post p2", "post p1"] and second["nextCursor"] is None
