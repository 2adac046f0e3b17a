"""Record export and import (a Roost extension) on every database: round trips in CSV and JSON
lines, per-row errors, chunk transactions, resuming, rules, hidden fields and streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from roost.testing import HookRecorder
from tests.conftest import Api

FIELDS = [
    {"name": "title", "type": "text", "required": True}, {"name": "n", "type": "number"},
    {"name": "flag", "type": "bool"}, {"name": "meta", "type": "json"}, {"name": "when", "type": "date"},
    {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
    {"name": "kind", "type": "select", "values": ["x", "y"], "maxSelect": 1},
    {"name": "secret", "type": "text", "hidden": True},
    {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
    {"name": "created", "type": "autodate", "onCreate": True},
]  # fmt: skip
RECORDS = [
    {"title": "plain", "n": 1, "flag": True, "meta": {"k": [1, "two"]}, "when": "2024-01-02 03:04:05.678Z",
     "tags": ["a", "c"], "kind": "x", "secret": "s1"},
    {"title": 'quotes " and, commas\nand a new line', "n": -2.5, "flag": False, "meta": "123", "tags": [], "kind": ""},
    {"title": "ünïcødé ✓", "n": 0, "meta": None, "tags": ["b"], "kind": "y", "secret": "s3"},
    {"title": "json string", "meta": "just text", "n": 1.5e15},
]  # fmt: skip
SKIP_KEYS = {"collectionId", "collectionName", "created"}


async def make(api: Api, name: str, **rules: Any) -> None:
    res = await api.su("POST", "/api/collections", json={"name": name, "fields": FIELDS, **rules})
    assert res.status_code == 200, res.text


async def user(api: Api, email: str) -> tuple[str, str]:
    body = {"email": email, "password": "password123", "passwordConfirm": "password123"}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return res.json()["id"], await api.login("users", email, "password123")


async def all_records(api: Api, name: str) -> list[dict[str, Any]]:
    res = await api.su("GET", f"/api/collections/{name}/records", params={"perPage": 1000, "sort": "id"})
    assert res.status_code == 200, res.text
    return [{k: v for k, v in r.items() if k not in SKIP_KEYS} for r in res.json()["items"]]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def envelope_ok(res: Any, status: int) -> dict[str, Any]:
    assert res.status_code == status, res.text
    body: dict[str, Any] = res.json()
    assert set(body) == {"status", "message", "data"} and body["status"] == status
    return body


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_then_import_gives_equal_records(api: Api, fmt: str) -> None:
    await make(api, "src")
    await make(api, "dst")
    owner, _ = await user(api, "owner@example.com")
    for body in RECORDS:
        await api.create_record("src", {**body, "owner": owner})
    res = await api.su("GET", "/api/collections/src/export", params={"format": fmt})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/csv" if fmt == "csv" else "application/jsonl")
    if fmt == "csv":
        assert res.text.splitlines()[0] == "collectionId,collectionName,created,flag,id,kind,meta,n,owner,secret,tags,title,when"
    else:
        first = orjson.loads(res.text.splitlines()[0])
        rest = await api.su("GET", "/api/collections/src/records", params={"perPage": 1})
        assert first == rest.json()["items"][0]  # the REST shape, line by line
    ctype = "text/csv" if fmt == "csv" else "application/jsonl"
    with HookRecorder(api.app, only=["on_record_create_request", "on_record_create"]) as hooks:
        imported = await api.su("POST", "/api/collections/dst/import", content=res.content, headers={"content-type": ctype})
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"rows": 4, "skipped": 0, "committed": 4, "failed": 0, "chunks": 1, "nextRow": None, "errors": []}
    assert hooks.count("on_record_create_request") == 4 and hooks.count("on_record_create") == 4
    assert await all_records(api, "dst") == await all_records(api, "src")


async def test_a_failing_chunk_is_rolled_back_whole_and_earlier_chunks_stay(api: Api) -> None:
    await make(api, "items")
    rows = [{"title": f"t{i}"} for i in range(1, 8)]
    rows[4] = {"n": 5}  # row 5: no title
    body = jsonl(rows).replace(b'{"title":"t6"}', b'{"title": oops')  # row 6: not JSON
    with HookRecorder(api.app, only=["on_record_after_create_success"]) as hooks:
        res = await api.su("POST", "/api/collections/items/import?chunk=3", content=body)
    assert hooks.count("on_record_after_create_success") == 3  # the rolled-back chunk announced nothing
    data = envelope_ok(res, 400)["data"]
    assert data["committed"] == 3 and data["chunks"] == 1 and data["nextRow"] == 4 and data["failed"] == 2
    assert [(e["row"], e["code"]) for e in data["errors"]] == [(5, "validation_failed"), (6, "validation_invalid_json")]
    assert data["errors"][0]["data"] == {"title": {"code": "validation_required", "message": "Cannot be blank."}}
    assert sorted(r["title"] for r in await all_records(api, "items")) == ["t1", "t2", "t3"]
    fixed = jsonl([{"title": f"t{i}"} for i in range(1, 8)])
    res = await api.su("POST", f"/api/collections/items/import?chunk=3&skip={data['nextRow'] - 1}", content=fixed)
    assert res.status_code == 200, res.text
    assert res.json()["skipped"] == 3 and res.json()["committed"] == 4
    assert sorted(r["title"] for r in await all_records(api, "items")) == [f"t{i}" for i in range(1, 8)]


async def test_continue_on_error_leaves_out_only_the_failing_rows(api: Api) -> None:
    await make(api, "items")
    csv = "title,n\r\nok1,1\r\n,2\r\nok3,x3\r\nok4,4\r\nok1-again,5\r\n"
    with HookRecorder(api.app, only=["on_record_after_create_success"]) as hooks:
        res = await api.su("POST", "/api/collections/items/import?continueOnError=true&chunk=2", content=csv,
                           headers={"content-type": "text/csv"})  # fmt: skip
    assert res.status_code == 200, res.text
    assert hooks.count("on_record_after_create_success") == 4  # none for the row left out
    report = res.json()
    assert report["committed"] == 4 and report["failed"] == 1 and report["nextRow"] is None
    assert report["errors"][0]["row"] == 2 and report["errors"][0]["data"]["title"]["code"] == "validation_required"
    assert sorted(r["title"] for r in await all_records(api, "items")) == ["ok1", "ok1-again", "ok3", "ok4"]


async def test_duplicate_ids_fail_the_row_and_upsert_updates(api: Api) -> None:
    await make(api, "items", updateRule="")
    first = await api.create_record("items", {"id": "aaaaaaaaaaaaaaa", "title": "old"})
    rows = jsonl([{"id": first["id"], "title": "new"}, {"id": "bbbbbbbbbbbbbbb", "title": "b"}])
    res = await api.su("POST", "/api/collections/items/import", content=rows)
    data = envelope_ok(res, 400)["data"]
    assert data["errors"][0]["row"] == 1 and data["errors"][0]["data"]["id"]["code"] == "validation_not_unique"
    assert len(await all_records(api, "items")) == 1  # row 2 was in the failing chunk
    res = await api.su("POST", "/api/collections/items/import?mode=upsert", content=rows)
    assert res.status_code == 200, res.text
    assert sorted(r["title"] for r in await all_records(api, "items")) == ["b", "new"]


async def test_rules_hidden_fields_and_api_key_scopes_apply(api: Api) -> None:
    await make(api, "notes", listRule="owner = @request.auth.id", createRule="@request.auth.id != '' && owner = @request.auth.id")
    alice, alice_token = await user(api, "alice@example.com")
    bob, _ = await user(api, "bob@example.com")
    for owner, title in ((alice, "a1"), (bob, "b1"), (alice, "a2")):
        await api.create_record("notes", {"title": title, "owner": owner, "secret": "hush"})
    res = await api.call("GET", "/api/collections/notes/export?format=csv")
    assert res.status_code == 200 and res.text == "collectionId,collectionName,created,flag,id,kind,meta,n,owner,tags,title,when\r\n"
    res = await api.call("GET", "/api/collections/notes/export", token=alice_token)
    lines = [orjson.loads(line) for line in res.text.splitlines()]
    assert sorted(r["title"] for r in lines) == ["a1", "a2"] and all("secret" not in r for r in lines)
    res = await api.call("GET", "/api/collections/notes/export?format=csv&fields=title,secret", token=alice_token)
    assert res.text.splitlines()[0] == "title" and "hush" not in res.text
    rows = jsonl([{"title": "mine", "owner": alice}, {"title": "theirs", "owner": bob}])
    res = await api.call("POST", "/api/collections/notes/import", token=alice_token, content=rows)
    data = envelope_ok(res, 400)["data"]
    assert data["errors"] == [{"row": 2, "code": "bad_request", "message": "Failed to create record.", "data": {}}]
    envelope_ok(await api.call("POST", "/api/collections/notes/import", content=rows), 400)  # guest: no row passes
    key = await api.su("POST", "/api/keys", json={"name": "reader", "scopes": ["notes:list"]})
    assert key.status_code == 200, key.text
    headers = {"x-api-key": key.json()["key"]}
    assert (await api.call("GET", "/api/collections/notes/export", headers=headers)).status_code == 200
    envelope_ok(await api.call("POST", "/api/collections/notes/import", headers=headers, content=rows), 403)


async def test_export_reads_in_keyset_chunks(api: Api) -> None:
    await make(api, "many")
    rows = jsonl([{"title": f"r{i:04d}", "n": i} for i in range(3000)])
    res = await api.su("POST", "/api/collections/many/import?chunk=1000", content=rows)
    assert res.status_code == 200 and res.json()["chunks"] == 3, res.text
    with HookRecorder(api.app, only=["on_records_list_request"]) as hooks:
        res = await api.su("GET", "/api/collections/many/export?format=csv&fields=title,n&sort=-n")
    assert hooks.count("on_records_list_request") == 6  # 500 records a page, never the whole table
    lines = res.text.splitlines()
    assert len(lines) == 3001 and lines[1] == "r2999,2999" and lines[-1] == "r0000,0"


async def test_import_reads_the_body_as_it_arrives(api: Api) -> None:
    await make(api, "stream")
    seen: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, 1500, 100):
            if start == 1200:  # two chunks of 500 are committed before the rest is even sent
                res = await api.su("GET", "/api/collections/stream/records?perPage=1")
                seen.append(res.json()["totalItems"])
            yield jsonl([{"title": f"s{i}"} for i in range(start, start + 100)])

    res = await api.su("POST", "/api/collections/stream/import", content=body())
    assert res.status_code == 200, res.text
    assert seen == [1000] and res.json()["committed"] == 1500 and res.json()["chunks"] == 3


@pytest.mark.parametrize(("url", "body", "ctype", "status", "key"), [
    ("/api/collections/items/import?format=xml", b"", "", 400, "format"),
    ("/api/collections/items/import", b"title,nope\r\na,b\r\n", "text/csv", 400, "columns"),
    ("/api/collections/items/import", b"title,file\r\na,x.png\r\n", "text/csv", 400, "errors"),
    ("/api/collections/items/import", b'title\r\n"never closed\r\n', "text/csv", 400, "body"),
    ("/api/collections/items/import", b'title\r\na"b\r\n', "text/csv", 400, "body"),
    ("/api/collections/items/import", b"title\r\n\xff\xfe\r\n", "text/csv", 400, "body"),
    ("/api/collections/items/import", b"", "text/csv", 400, "body"),
    ("/api/collections/items/import?chunk=0", b"", "", 400, None),
    ("/api/collections/items/import?mode=merge", b"", "", 400, None),
    ("/api/collections/items/import?skip=x", b"", "", 400, None),
    ("/api/collections/nope/import", b"", "", 404, None),
    ("/api/collections/items_view/import", b"", "", 400, None),
])  # fmt: skip
async def test_bad_input_gets_an_error_envelope(api: Api, url: str, body: bytes, ctype: str, status: int, key: str | None) -> None:
    await api.su("POST", "/api/collections", json={"name": "items", "fields": [*FIELDS, {"name": "file", "type": "file"}]})
    await api.su("POST", "/api/collections", json={"name": "items_view", "type": "view", "viewQuery": "SELECT id, title FROM items"})
    res = await api.su("POST", url, content=body, headers={"content-type": ctype} if ctype else {})
    data = envelope_ok(res, status)["data"]
    if key is not None:
        assert key in data, data
    assert len(await all_records(api, "items")) == 0


@pytest.mark.parametrize("url", [
    "/api/collections/items/export?format=xml", "/api/collections/items/export?filter=(((",
    "/api/collections/items/export?sort=nope", "/api/collections/items/export?chunk=x",
])  # fmt: skip
async def test_bad_export_parameters_get_a_400_before_streaming(api: Api, url: str) -> None:
    await make(api, "items")
    envelope_ok(await api.su("GET", url), 400)
    envelope_ok(await api.call("GET", "/api/collections/items/export"), 403)  # listRule null: superusers only


async def test_unreadable_input_after_a_commit_reports_what_was_written(api: Api) -> None:
    await make(api, "items")
    body = 'title\r\nt1\r\nt2\r\nt3\r\n"never closed\r\nt5\r\n'
    res = await api.su("POST", "/api/collections/items/import?chunk=2", content=body, headers={"content-type": "text/csv"})
    data = envelope_ok(res, 400)["data"]
    assert data["committed"] == 2 and data["nextRow"] == 3 and data["errors"][0]["code"] == "validation_failed"
    assert data["errors"][0]["data"]["body"]["code"] == "validation_invalid_csv"
    assert sorted(r["title"] for r in await all_records(api, "items")) == ["t1", "t2"]


async def test_the_import_body_has_its_own_limit(api: Api) -> None:
    await make(api, "items")
    api.app.config.import_body_limit = 100
    envelope_ok(await api.su("POST", "/api/collections/items/import", content=jsonl([{"title": "x" * 200}])), 413)
    res = await api.su("POST", "/api/collections/items/import", content=jsonl([{"title": "x" * 50}]))
    assert res.status_code == 200 and res.json()["committed"] == 1, res.text


async def test_the_openapi_document_describes_both_routes(api: Api) -> None:
    await make(api, "items")
    doc = (await api.su("GET", "/api/openapi.json")).json()
    export = doc["paths"]["/api/collections/items/export"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"text/csv", "application/jsonl"}
    imported = doc["paths"]["/api/collections/items/import"]["post"]
    assert set(imported["requestBody"]["content"]) == {"text/csv", "application/jsonl"}
    assert {p["name"] for p in imported["parameters"] if "name" in p} >= {"format", "chunk", "skip", "mode", "continueOnError"}
