"""Records API scenarios that do not depend on rule expressions (public or superuser access)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

PUBLIC = {"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}


async def make_collection(api: Api, name: str, fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    res = await api.su("POST", "/api/collections", json={"name": name, **PUBLIC, "fields": fields, **extra})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


@pytest.fixture
async def blog(api: Api) -> dict[str, Any]:
    authors = await make_collection(api, "authors", [{"name": "name", "type": "text"}])
    posts = await make_collection(
        api,
        "posts",
        [
            {"name": "title", "type": "text", "required": True, "max": 20},
            {"name": "n", "type": "number", "min": 0},
            {"name": "flag", "type": "bool"},
            {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
            {"name": "meta", "type": "json"},
            {"name": "author", "type": "relation", "collectionId": authors["id"], "maxSelect": 1, "cascadeDelete": True},
            {"name": "body", "type": "editor"},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    )
    return {"authors": authors, "posts": posts}


async def test_create_view_update_delete(api: Api, blog: dict[str, Any]) -> None:
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "hello", "n": "5", "tags": ["b", "a"], "meta": {"k": [1, 2]}})
    assert res.status_code == 200, res.text
    rec = res.json()
    assert rec["n"] == 5 and rec["tags"] == ["b", "a"] and rec["meta"] == {"k": [1, 2]}
    assert rec["flag"] is False and rec["author"] == "" and rec["collectionName"] == "posts"
    assert len(rec["id"]) == 15 and rec["created"].endswith("Z") and rec["created"] == rec["updated"]
    assert list(rec) == sorted(rec)

    res = await api.call("PATCH", f"/api/collections/posts/records/{rec['id']}", json={"n+": 2, "tags-": ["b"], "+tags": "c"})
    assert res.status_code == 200, res.text
    assert res.json()["n"] == 7
    assert res.json()["tags"] == ["c", "a"]

    res = await api.call("DELETE", f"/api/collections/posts/records/{rec['id']}")
    assert res.status_code == 204
    res = await api.call("GET", f"/api/collections/posts/records/{rec['id']}")
    assert res.status_code == 404
    assert res.json() == {"data": {}, "message": "The requested resource wasn't found.", "status": 404}


async def test_validation_errors_use_pocketbase_codes(api: Api, blog: dict[str, Any]) -> None:
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "x" * 21, "n": -1, "tags": ["z"]})
    assert res.status_code == 400
    body = res.json()
    assert body["message"] == "Failed to create record."
    assert body["data"]["title"] == {"code": "validation_max_text_constraint", "message": "Must be no more than 20 character(s).", "params": {"max": 20}}
    assert body["data"]["n"]["code"] == "validation_min_number_constraint"
    assert body["data"]["tags"] == {"code": "validation_invalid_value", "message": "Invalid value z.", "params": {"value": "z"}}


async def test_missing_relation_is_rejected_and_expand_works(api: Api, blog: dict[str, Any]) -> None:
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "t", "author": "nosuchid0000000"})
    assert res.status_code == 400
    assert res.json()["data"]["author"]["code"] == "validation_missing_rel_records"
    author = (await api.call("POST", "/api/collections/authors/records", json={"name": "Ann"})).json()
    post = (await api.call("POST", "/api/collections/posts/records", json={"title": "t", "author": author["id"]})).json()
    res = await api.call("GET", f"/api/collections/posts/records/{post['id']}", params={"expand": "author"})
    assert res.json()["expand"]["author"]["name"] == "Ann"
    res = await api.call("GET", f"/api/collections/authors/records/{author['id']}", params={"expand": "posts_via_author"})
    assert [p["id"] for p in res.json()["expand"]["posts_via_author"]] == [post["id"]]
    # cascade delete removes the post with its author
    assert (await api.call("DELETE", f"/api/collections/authors/records/{author['id']}")).status_code == 204
    assert (await api.call("GET", f"/api/collections/posts/records/{post['id']}")).status_code == 404


async def test_list_paging_fields_and_skip_total(api: Api, blog: dict[str, Any]) -> None:
    for i in range(5):
        assert (await api.call("POST", "/api/collections/posts/records", json={"title": f"p{i}", "n": i})).status_code == 200
    res = await api.call("GET", "/api/collections/posts/records", params={"perPage": 2, "page": 2, "sort": "-n", "fields": "title,n"})
    assert res.status_code == 200
    assert res.json() == {"items": [{"title": "p2", "n": 2}, {"title": "p1", "n": 1}], "page": 2, "perPage": 2, "totalItems": 5, "totalPages": 3}
    res = await api.call("GET", "/api/collections/posts/records", params={"skipTotal": "1", "perPage": 5000})
    assert res.json()["totalItems"] == -1 and res.json()["totalPages"] == -1 and res.json()["perPage"] == 1000
    res = await api.call("GET", "/api/collections/posts/records", params={"page": "x"})
    assert res.status_code == 400


async def test_multipart_and_urlencoded_bodies(api: Api, blog: dict[str, Any]) -> None:
    res = await api.call("POST", "/api/collections/posts/records", data={"title": "007", "n": "12.5", "flag": "true", "tags": ["a", "b"]})
    assert res.status_code == 200, res.text
    rec = res.json()
    assert rec["title"] == "007" and rec["n"] == 12.5 and rec["flag"] is True and rec["tags"] == ["a", "b"]
    res = await api.call(
        "POST", "/api/collections/posts/records",
        files={"@jsonPayload": (None, '{"title":"json","meta":{"x":1}}')},
    )  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["meta"] == {"x": 1}


async def test_bad_json_body(api: Api, blog: dict[str, Any]) -> None:
    res = await api.call("POST", "/api/collections/posts/records", content=b"{nope", headers={"content-type": "application/json"})
    assert res.status_code == 400
    assert res.json()["message"] == "Something went wrong while processing your request."


async def test_locked_rules_need_a_superuser(api: Api) -> None:
    await api.su("POST", "/api/collections", json={"name": "secret", "fields": [{"name": "x", "type": "text"}]})
    res = await api.call("GET", "/api/collections/secret/records")
    assert res.status_code == 403
    assert res.json()["message"] == "Only superusers can perform this action."
    assert (await api.su("GET", "/api/collections/secret/records")).status_code == 200
    res = await api.call("GET", "/api/collections/nope/records")
    assert res.json() == {"data": {}, "message": "Missing collection context.", "status": 404}


async def test_batch_is_off_by_default_then_transactional(api: Api, blog: dict[str, Any]) -> None:
    reqs = {"requests": [{"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "a"}}]}
    res = await api.call("POST", "/api/batch", json=reqs)
    assert res.status_code == 403
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    reqs["requests"].append({"method": "POST", "url": "/api/collections/posts/records", "body": {}})
    res = await api.call("POST", "/api/batch", json=reqs)
    assert res.status_code == 400
    assert res.json()["data"]["requests"]["1"]["code"] == "batch_request_failed"
    assert res.json()["data"]["requests"]["1"]["response"]["data"]["title"]["code"] == "validation_required"
    listed = await api.call("GET", "/api/collections/posts/records")
    assert listed.json()["totalItems"] == 0  # the first create was rolled back
    reqs["requests"][1]["body"] = {"title": "b"}
    res = await api.call("POST", "/api/batch", json=reqs)
    assert res.status_code == 200, res.text
    assert [r["status"] for r in res.json()] == [200, 200]
    created = res.json()[0]["body"]
    upsert = {"requests": [{"method": "PUT", "url": "/api/collections/posts/records", "body": {"id": created["id"], "title": "c"}}]}
    res = await api.call("POST", "/api/batch", json=upsert)
    assert res.json()[0]["body"]["title"] == "c"


async def test_auth_flows(api: Api) -> None:
    res = await api.call("POST", "/api/collections/users/records", json={"email": "u@x.com", "password": "12345678", "passwordConfirm": "12345678"})
    assert res.status_code == 200, res.text
    assert "email" not in res.json()
    token = await api.login("users", "u@x.com", "12345678")
    res = await api.call("POST", "/api/collections/users/auth-with-password", json={"identity": "U@x.com", "password": "12345678"})
    assert res.status_code == 400  # identity lookups are exact, as on the reference server
    res = await api.call("POST", "/api/collections/users/auth-refresh", token=token)
    assert res.status_code == 200
    assert res.json()["record"]["email"] == "u@x.com"
    res = await api.call("POST", "/api/collections/users/auth-refresh", token="Bearer " + token)
    assert res.status_code == 200
    res = await api.call("POST", "/api/collections/users/auth-with-password", json={"identity": "u@x.com", "password": "nope"})
    assert res.json() == {"data": {}, "message": "Failed to authenticate.", "status": 400}
    res = await api.call("POST", "/api/collections/users/auth-refresh")
    assert res.status_code == 401
    res = await api.call("GET", "/api/collections/nope/auth-methods")
    assert res.json()["message"] == "Missing or invalid collection context."
    res = await api.call("GET", "/api/collections/_mfas/auth-methods")
    assert res.json()["message"] == "Missing or invalid auth collection context."
    res = await api.call("GET", "/api/collections/users/auth-methods")
    assert res.json()["emailPassword"] is True
