"""Collections API scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

POSTS = {
    "name": "posts",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "fields": [
        {"name": "title", "type": "text", "required": True, "max": 20},
        {"name": "n", "type": "number"},
        {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
    ],
}


async def test_fresh_data_dir_has_pocketbase_system_collections(api: Api) -> None:
    res = await api.su("GET", "/api/collections", params={"perPage": 100})
    assert res.status_code == 200
    ids = {c["name"]: c["id"] for c in res.json()["items"]}
    assert ids["_superusers"] == "pbc_3142635823"
    assert ids["users"] == "_pb_users_auth_"
    assert ids["_mfas"] == "pbc_2279338944"
    assert ids["_otps"] == "pbc_1638494021"
    assert ids["_externalAuths"] == "pbc_2281828961"
    assert ids["_authOrigins"] == "pbc_4275539003"


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        (None, 401, "The request requires valid record authorization token."),
        ("garbage", 401, "The request requires valid record authorization token."),
    ],
)
async def test_collections_need_a_superuser(api: Api, token: str | None, status: int, message: str) -> None:
    res = await api.call("GET", "/api/collections", token=token)
    assert res.status_code == status
    assert res.json() == {"data": {}, "message": message, "status": status}


async def test_create_update_rename_and_delete_keep_records(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json=POSTS)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["id"] == "pbc_1125843985"
    assert [f["name"] for f in body["fields"]] == ["id", "title", "n", "tags"]
    rec = await api.call("POST", "/api/collections/posts/records", json={"title": "hi", "n": 2, "tags": ["a"]})
    assert rec.status_code == 200, rec.text
    rid = rec.json()["id"]

    fields = body["fields"]
    fields[1]["name"] = "headline"  # rename keeps data (same field id)
    fields.append({"name": "extra", "type": "bool"})
    res = await api.su("PATCH", "/api/collections/posts", json={"name": "articles", "fields": fields})
    assert res.status_code == 200, res.text
    got = await api.su("GET", f"/api/collections/articles/records/{rid}")
    assert got.status_code == 200
    assert got.json()["headline"] == "hi"
    assert got.json()["extra"] is False
    assert got.json()["n"] == 2

    res = await api.su("DELETE", "/api/collections/articles")
    assert res.status_code == 204
    assert (await api.su("GET", "/api/collections/articles")).status_code == 404


async def test_collection_validation_errors(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "users"})
    assert res.status_code == 400
    assert res.json()["data"]["name"]["code"] == "validation_collection_name_exists"
    res = await api.su("POST", "/api/collections", json={"name": "a b", "type": "x"})
    assert res.json()["data"] == {
        "name": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
        "type": {"code": "validation_in_invalid", "message": "Must be a valid value."},
    }
    res = await api.su("POST", "/api/collections", json={"name": "t", "fields": [{"name": "x", "type": "nope"}]})
    assert res.status_code == 400
    assert res.json()["message"] == "Failed to load the submitted data due to invalid formatting."
    res = await api.su("POST", "/api/collections", json={"name": "t", "indexes": ["bad"]})
    assert res.json()["data"]["indexes"]["0"]["code"] == "validation_invalid_index_expression"


async def test_system_collection_cannot_be_deleted(api: Api) -> None:
    res = await api.su("DELETE", "/api/collections/_superusers")
    assert res.status_code == 400
    assert res.json()["message"] == "Failed to delete collection."


async def test_unique_index_maps_to_field_error(api: Api) -> None:
    data = {**POSTS, "indexes": ["CREATE UNIQUE INDEX `idx_title` ON `posts` (`title`)"]}
    assert (await api.su("POST", "/api/collections", json=data)).status_code == 200
    assert (await api.call("POST", "/api/collections/posts/records", json={"title": "same"})).status_code == 200
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "same"})
    assert res.status_code == 400
    assert res.json()["data"] == {"title": {"code": "validation_not_unique", "message": "Value must be unique."}}


async def test_scaffolds(api: Api) -> None:
    res = await api.su("GET", "/api/collections/meta/scaffolds")
    assert set(res.json()) == {"base", "auth", "view"}
    assert [f["name"] for f in res.json()["auth"]["fields"]] == ["id", "password", "tokenKey", "email", "emailVisibility", "verified"]


async def test_unique_index_over_duplicates_is_a_validation_error(api: Api) -> None:
    assert (await api.su("POST", "/api/collections", json=POSTS)).status_code == 200
    for _ in range(2):
        assert (await api.call("POST", "/api/collections/posts/records", json={"title": "same"})).status_code == 200
    res = await api.su("PATCH", "/api/collections/posts", json={"indexes": ["CREATE UNIQUE INDEX `idx_t` ON `posts` (`title`)"]})
    assert res.status_code == 400, res.text
    assert res.json()["data"]["indexes"]["code"] == "validation_invalid_index_expression"
    listed = await api.call("GET", "/api/collections/posts/records")
    assert listed.json()["totalItems"] == 2  # records and table untouched
    assert (await api.su("GET", "/api/collections/posts")).json()["indexes"] == []


async def test_values_of_the_wrong_json_type_are_a_formatting_error(api: Api) -> None:
    # found by the schemathesis run (tests/apis/test_openapi_fuzz.py): each used to answer 500
    bodies: list[dict[str, Any]] = [
        {"name": "w1", "fields": [{"name": "a", "type": {}}]},
        {"name": "w2", "fields": [{"name": "a", "type": []}]},
        {"name": "w3", "fields": [{"name": {}, "type": "text"}]},
        {"name": "w4", "indexes": [{}]},
        {"name": "w5", "indexes": "CREATE INDEX"},
        {"name": "w6", "id": {"a": 1}},
        {"name": "w7", "type": "auth", "otp": "x"},
        {"name": "w8", "type": "auth", "passwordAuth": []},
    ]
    for body in bodies:
        res = await api.su("POST", "/api/collections", json=body)
        assert res.status_code == 400, (body, res.text)
        assert res.json()["message"] == "Failed to load the submitted data due to invalid formatting."
    res = await api.su("POST", "/api/collections", json={"name": "w9", "type": "auth", "otp": None, "fields": [{"name": "t", "type": "text", "id": None}]})
    assert res.status_code == 200, res.text
    assert (await api.call("GET", "/api/collections/w9/auth-methods")).status_code == 200
