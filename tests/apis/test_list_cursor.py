"""Keyset pagination (``?cursor=``, a Roost extension): the same records in the same order as
offset pages, on every database, under several sorts, filters and rules."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from tests.conftest import Api

SIZE = 500
PER_PAGE = 37
INVALID = "The cursor is invalid or does not belong to this collection and sort."
INVALID_ENVELOPE = {"status": 400, "message": INVALID,
                    "data": {"cursor": {"code": "validation_invalid_cursor", "message": INVALID}}}


async def _batch(api: Api, collection: str, bodies: list[dict[str, Any]]) -> list[str]:
    requests = [{"method": "POST", "url": f"/api/collections/{collection}/records", "body": b} for b in bodies]
    res = await api.su("POST", "/api/batch", json={"requests": requests})
    assert res.status_code == 200, res.text
    return [r["body"]["id"] for r in res.json()]


@pytest.fixture
async def walk(api: Api) -> Api:
    """``walk``: 500 records with many ties, NULL relations and mixed-type JSON values."""
    res = await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": SIZE, "timeout": 120}})
    assert res.status_code == 200, res.text
    res = await api.su("POST", "/api/collections", json={"name": "people", "fields": [{"name": "name", "type": "text"}]})
    assert res.status_code == 200, res.text
    people = await _batch(api, "people", [{"name": "bob"}, {"name": "ann"}, {"name": "Cid"}])
    res = await api.su("POST", "/api/collections", json={
        "name": "walk", "listRule": "n != 7", "fields": [
            {"name": "title", "type": "text"}, {"name": "n", "type": "number"}, {"name": "flag", "type": "bool"},
            {"name": "meta", "type": "json"},
            {"name": "owner", "type": "relation", "collectionId": res.json()["id"], "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
        ],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    rng = random.Random(5)
    bodies = [{"title": rng.choice(["a", "B", "c", "", "a b"]), "n": rng.randint(0, 12), "flag": rng.random() < 0.5,
               "meta": rng.choice([None, 3, 1.5, -2, "x", "b", ""]), "owner": rng.choice([*people, ""])}
              for _ in range(SIZE)]  # fmt: skip
    await _batch(api, "walk", bodies)
    return api


async def _offset_ids(api: Api, token: str | None, **params: Any) -> list[str]:
    ids, page = [], 1
    while True:
        res = await api.call("GET", "/api/collections/walk/records", token=token,
                             params={**params, "page": page, "perPage": PER_PAGE, "fields": "id"})
        assert res.status_code == 200, res.text
        assert set(res.json()) == {"items", "page", "perPage", "totalItems", "totalPages"}  # PocketBase's shape
        ids += [item["id"] for item in res.json()["items"]]
        if page >= res.json()["totalPages"]:
            return ids
        page += 1


async def _cursor_ids(api: Api, token: str | None, **params: Any) -> list[str]:
    ids, cursor = [], ""
    while True:
        res = await api.call("GET", "/api/collections/walk/records", token=token,
                             params={**params, "cursor": cursor, "perPage": PER_PAGE, "fields": "id"})
        assert res.status_code == 200, res.text
        body = res.json()
        assert (body["page"], body["perPage"], body["totalItems"], body["totalPages"]) == (-1, PER_PAGE, -1, -1)
        ids += [item["id"] for item in body["items"]]
        if body["nextCursor"] is None:
            assert len(body["items"]) <= PER_PAGE
            return ids
        assert len(body["items"]) == PER_PAGE
        cursor = body["nextCursor"]


SORTS = ["", "-n", "n,title", "-flag,-title", "meta", "-meta", "owner.name", "-owner.name,n", "created", "-id"]


@pytest.mark.parametrize("sort", SORTS)
async def test_a_cursor_walk_matches_the_offset_walk(walk: Api, sort: str) -> None:
    offset_sort = f"{sort},id" if sort and not sort.endswith("id") else sort
    expected = await _offset_ids(walk, walk.su_token, sort=offset_sort)
    assert len(expected) == SIZE
    assert await _cursor_ids(walk, walk.su_token, sort=sort) == expected


async def test_a_guest_walk_applies_the_list_rule_and_the_filter(walk: Api) -> None:
    params = {"filter": "flag = true && title != 'c'"}
    expected = await _offset_ids(walk, None, sort="-n,title,id", **params)
    assert 0 < len(expected) < SIZE // 2
    assert await _cursor_ids(walk, None, sort="-n,title", **params) == expected
    records = await walk.call("GET", "/api/collections/walk/records", params={"filter": "n = 7", "cursor": ""})
    assert records.json()["items"] == [] and records.json()["nextCursor"] is None


async def _first_cursor(api: Api, collection: str = "walk", sort: str = "-n") -> str:
    res = await api.su("GET", f"/api/collections/{collection}/records", params={"cursor": "", "sort": sort, "perPage": 2})
    assert res.status_code == 200, res.text
    return str(res.json()["nextCursor"])


def _tampered(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-20] ^= 1  # flip one bit of the sealed sort values, keeping the old tag
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("case", ["garbage", "tampered", "other sort", "other collection", "random sort"])
async def test_a_bad_cursor_is_a_400_envelope(walk: Api, case: str) -> None:
    cursor = await _first_cursor(walk)
    sort = "-n"
    if case == "garbage":
        cursor = "not-a-cursor"
    elif case == "tampered":
        cursor = _tampered(cursor)
    elif case == "other sort":
        sort = "n"
    elif case == "other collection":
        cursor = await _first_cursor(walk, "people", "-id")
        sort = "-id"
    elif case == "random sort":
        sort = "@random"
    res = await walk.su("GET", "/api/collections/walk/records", params={"cursor": cursor, "sort": sort})
    assert res.status_code == 400, res.text
    if case == "random sort":
        assert res.json()["message"] == "Something went wrong while processing your request."
    else:
        assert res.json() == INVALID_ENVELOPE


async def test_plain_not_null_columns_seek_without_null_branches(walk: Api) -> None:
    from roost.core.events import RequestInfo
    from roost.core.records.keyset import mark_not_null
    from roost.core.rules.engine import compile_order_keys, new_binder

    app = walk.app
    coll = app.collections.get("walk")
    info = RequestInfo(auth={"id": "su"}, auth_collection=app.collections.get("_superusers"))
    keys = compile_order_keys(app, coll, "-n,title,owner.name,meta", info, '"_r"', new_binder(app))
    marked = mark_not_null(keys, coll, '"_r"', app.dialect)
    assert [k.nullable for k in marked[:2]] == [False, False]  # number and text columns are NOT NULL
    assert all(k.nullable for k in marked[2:])  # a relation's field and JSON values may be NULL
