"""Collections API scenarios."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from roost.testing import ApiScenario, TestApp
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


async def system_collection_ids(api: TestApp, res: httpx.Response) -> None:
    ids = {c["name"]: c["id"] for c in res.json()["items"]}
    assert ids["_superusers"] == "pbc_3142635823"
    assert ids["users"] == "_pb_users_auth_"
    assert ids["_mfas"] == "pbc_2279338944"
    assert ids["_otps"] == "pbc_1638494021"
    assert ids["_externalAuths"] == "pbc_2281828961"
    assert ids["_authOrigins"] == "pbc_4275539003"


def body_is(expected: Any, key: str = "") -> Any:
    async def check(api: TestApp, res: httpx.Response) -> None:
        assert (res.json()[key] if key else res.json()) == expected

    return check


def error_data(path: str, code: str) -> Any:
    async def check(api: TestApp, res: httpx.Response) -> None:
        data = res.json()["data"]
        for key in path.split("."):
            data = data[key]
        assert data["code"] == code

    return check


async def auth_scaffold_fields(api: TestApp, res: httpx.Response) -> None:
    assert set(res.json()) == {"base", "auth", "view"}
    assert [f["name"] for f in res.json()["auth"]["fields"]] == ["id", "password", "tokenKey", "email", "emailVisibility", "verified"]


NEEDS_SUPERUSER = {"data": {}, "message": "The request requires valid record authorization token.", "status": 401}
FORMATTING = '"message":"Failed to load the submitted data due to invalid formatting."'
SCENARIOS = [
    ApiScenario("fresh data dir has PocketBase's system collections", "GET", "/api/collections?perPage=100", auth="superuser",
                after=system_collection_ids),
    ApiScenario("guest may not list collections", "GET", "/api/collections", expected_status=401, after=body_is(NEEDS_SUPERUSER)),
    ApiScenario("a garbage token may not list collections", "GET", "/api/collections", auth="garbage", expected_status=401,
                after=body_is(NEEDS_SUPERUSER)),
    ApiScenario("a taken name", "POST", "/api/collections", auth="superuser", body={"name": "users"}, expected_status=400,
                after=error_data("name", "validation_collection_name_exists")),
    ApiScenario("a bad name and type", "POST", "/api/collections", auth="superuser", body={"name": "a b", "type": "x"},
                expected_status=400, after=body_is({
                    "name": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
                    "type": {"code": "validation_in_invalid", "message": "Must be a valid value."},
                }, key="data")),
    ApiScenario("an unknown field type", "POST", "/api/collections", auth="superuser",
                body={"name": "t", "fields": [{"name": "x", "type": "nope"}]}, expected_status=400, expected_content=[FORMATTING]),
    ApiScenario("a bad index", "POST", "/api/collections", auth="superuser", body={"name": "t", "indexes": ["bad"]},
                expected_status=400, after=error_data("indexes.0", "validation_invalid_index_expression")),
    ApiScenario("a system collection cannot be deleted", "DELETE", "/api/collections/_superusers", auth="superuser",
                expected_status=400, expected_content=['"message":"Failed to delete collection."'],
                expected_hooks=["on_collection_after_delete_error"], unexpected_hooks=["on_collection_after_delete_success"]),
    ApiScenario("scaffolds of each type", "GET", "/api/collections/meta/scaffolds", auth="superuser", after=auth_scaffold_fields),
]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_collections_scenario(api: Api, scenario: ApiScenario) -> None:
    await scenario.run(api)



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


async def test_unique_index_maps_to_field_error(api: Api) -> None:
    data = {**POSTS, "indexes": ["CREATE UNIQUE INDEX `idx_title` ON `posts` (`title`)"]}
    assert (await api.su("POST", "/api/collections", json=data)).status_code == 200
    assert (await api.call("POST", "/api/collections/posts/records", json={"title": "same"})).status_code == 200
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "same"})
    assert res.status_code == 400
    assert res.json()["data"] == {"title": {"code": "validation_not_unique", "message": "Value must be unique."}}


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


async def test_a_taken_name_is_a_name_error_even_when_the_derived_id_is_taken_too(api: Api) -> None:
    await api.create_collection({"name": "posts"})
    for name in ("posts", "POSTS"):
        res = await api.su("POST", "/api/collections", json={"name": name})
        assert res.status_code == 400
        assert res.json()["data"] == {"name": {"code": "validation_collection_name_exists",
                                               "message": "Collection name must be unique (case insensitive)."}}
    taken_id = (await api.su("GET", "/api/collections/posts")).json()["id"]
    res = await api.su("POST", "/api/collections", json={"name": "other", "id": taken_id})
    assert res.json()["data"] == {"id": {"code": "validation_invalid_or_existing_id",
                                         "message": "The model id is invalid or already exists."}}


@pytest.mark.parametrize("select", ["p.author as id, p.title", "p.tags as id, p.author", "p.title as id", "p.id"])
async def test_a_view_id_is_always_the_plain_text_primary_key(api: Api, select: str) -> None:
    await api.create_collection({"name": "posts", "fields": [
        {"name": "title", "type": "text"},
        {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "tags", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5},
    ]})  # fmt: skip
    await api.create_collection({"name": "v", "type": "view", "viewQuery": f"select {select} from posts p"})
    fields = (await api.su("GET", "/api/collections/v")).json()["fields"]
    assert fields[0] == {"autogeneratePattern": "", "help": "", "hidden": False, "id": "text3208210256", "max": 0, "min": 0,
                         "name": "id", "pattern": "^[a-z0-9]+$", "presentable": False, "primaryKey": True,
                         "required": True, "system": True, "type": "text"}
    assert [f["type"] for f in fields[1:]] == {"p.author as id, p.title": ["text"], "p.tags as id, p.author": ["relation"],
                                               "p.title as id": [], "p.id": []}[select]
