"""File uploads through GraphQL's multipart request spec: REST's upload path, checks and errors."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
from gql import Client, FileVar, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from tests.conftest import Api

URL = "/api/graphql"
CREATE = "mutation($a: Upload, $f: [Upload!]) { createDocs(input: {title: \"t\", avatar: $a, files: $f}) { id avatar files } }"


async def docs(api: Api) -> None:
    await api.create_collection({
        "name": "docs", "createRule": "", "updateRule": "", "viewRule": "", "listRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "avatar", "type": "file", "maxSelect": 1, "maxSize": 64, "mimeTypes": ["text/plain"]},
            {"name": "files", "type": "file", "maxSelect": 3, "maxSize": 1000},
        ],
    })  # fmt: skip


async def multipart(api: Api, query: str, variables: dict[str, Any], files: dict[str, tuple[list[str], tuple[str, bytes, str]]]) -> httpx.Response:
    """POST the spec's parts: ``operations``, ``map``, then one part per file."""
    data = {
        "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
        "map": orjson.dumps({key: paths for key, (paths, _) in files.items()}).decode(),
    }
    return await api.call("POST", URL, data=data, files={key: part for key, (_, part) in files.items()})


def stored(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_create_stores_uploads_as_rests_multipart_create_does(api: Api) -> None:
    await docs(api)
    res = await multipart(api, CREATE, {"a": None, "f": [None, None]}, {
        "0": (["variables.a"], ("note.txt", b"hello", "text/plain")),
        "1": (["variables.f.0"], ("one.bin", b"\x00\x01", "application/octet-stream")),
        "2": (["variables.f.1"], ("two.txt", b"second", "text/plain")),
    })  # fmt: skip
    assert res.status_code == 200, res.text
    body = res.json()
    assert "errors" not in body, body
    created = body["data"]["createDocs"]
    record = (await api.call("GET", f"/api/collections/docs/records/{created['id']}")).json()
    assert stored(created["avatar"]) == record["avatar"] and record["avatar"].startswith("note_")
    assert [stored(u) for u in created["files"]] == record["files"] and len(record["files"]) == 2
    served = await api.call("GET", f"/api/files/docs/{created['id']}/{record['avatar']}")
    assert served.status_code == 200 and served.content == b"hello"
    # append one file and remove another by name, through the typed modifiers
    update = "mutation($id: String!, $f: [Upload!], $r: [String!]) { updateDocs(id: $id, input: {files_append: $f, files_remove: $r}) { files } }"
    res = await multipart(api, update, {"id": created["id"], "f": [None], "r": [record["files"][0]]},
                          {"0": (["variables.f.0"], ("three.txt", b"3", "text/plain"))})  # fmt: skip
    files = res.json()["data"]["updateDocs"]["files"]
    assert len(files) == 2 and stored(files[0]) == record["files"][1] and stored(files[1]).startswith("three_")
    # the JSON body takes uploads too, under REST's keys
    res = await multipart(api, "mutation($id: String!, $d: JSON!) { updateDocs(id: $id, data: $d) { avatar } }",
                          {"id": created["id"], "d": {"avatar": None}}, {"0": (["variables.d.avatar"], ("new.txt", b"new", "text/plain"))})  # fmt: skip
    assert stored(res.json()["data"]["updateDocs"]["avatar"]).startswith("new_")


async def test_file_checks_and_errors_are_rests(api: Api) -> None:
    await docs(api)
    for name, content, kind in (("big.txt", b"x" * 65, "text/plain"), ("pic.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20, "image/png")):
        rest = await api.call("POST", "/api/collections/docs/records", data={"title": "t"}, files={"avatar": (name, content, kind)})
        res = await multipart(api, CREATE, {"a": None}, {"0": (["variables.a"], (name, content, kind))})
        (error,) = res.json()["errors"]
        assert rest.status_code == error["extensions"]["status"] == 400
        codes = {k: v["code"] for k, v in error["extensions"]["data"].items()}
        assert codes == {k: v["code"] for k, v in rest.json()["data"].items()} and codes["avatar"].startswith("validation_")
    assert (await api.su("GET", "/api/collections/docs/records")).json()["totalItems"] == 0


async def test_malformed_multipart_requests_are_400(api: Api) -> None:
    await docs(api)
    part = ("a.txt", b"a", "text/plain")
    for variables, paths in (({"a": None}, ["variables.b.c"]), ({"a": None}, ["query"]), ({"a": "set"}, ["variables.a"])):
        res = await multipart(api, CREATE, variables, {"0": (paths, part)})
        assert res.status_code == 400 and res.json()["errors"][0]["extensions"]["code"] == "bad_request", res.text
    missing = await api.call("POST", URL, data={"operations": orjson.dumps({"query": CREATE}).decode(), "map": '{"0": ["variables.a"]}'},
                             files={"other": part})  # fmt: skip
    assert missing.status_code == 400
    not_json = await api.call("POST", URL, data={"operations": "{", "map": "{}"}, files={"0": part})
    assert not_json.status_code == 400
    inline = await api.call("POST", URL, json={"query": 'mutation { createDocs(input: {avatar: "x"}) { id } }'})
    assert inline.json()["errors"][0]["extensions"]["code"] == "graphql_validation"


async def test_batch_items_take_uploads(api: Api) -> None:
    await docs(api)
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    query = "mutation($r: [BatchRequestInput!]!) { batch(requests: $r) { status body } }"
    items = [{"method": "POST", "url": "/api/collections/docs/records", "body": {"title": "b", "avatar": None}}]
    res = await multipart(api, query, {"r": items}, {"0": (["variables.r.0.body.avatar"], ("batched.txt", b"bb", "text/plain"))})
    (result,) = res.json()["data"]["batch"]
    assert result["status"] == 200 and result["body"]["avatar"].startswith("batched_")


async def test_the_gql_client_uploads_through_its_httpx_transport(api: Api) -> None:
    await docs(api)
    transport = HTTPXAsyncTransport(url=f"http://test{URL}", transport=api.client._transport)
    async with Client(transport=transport) as session:
        request = GraphQLRequest(CREATE, variable_values={"a": FileVar(io.BytesIO(b"from gql"), filename="gql.txt", content_type="text/plain")})
        answer = await session.execute(request, upload_files=True)
        too_big = GraphQLRequest(CREATE, variable_values={"a": FileVar(io.BytesIO(b"y" * 100), filename="big.txt", content_type="text/plain")})
        try:
            await session.execute(too_big, upload_files=True)
            raise AssertionError("a file past maxSize was stored")
        except TransportQueryError as exc:
            assert exc.errors and exc.errors[0]["extensions"]["data"]["avatar"]["code"] == "validation_file_size_limit"
    record_id = answer["createDocs"]["id"]
    name = stored(answer["createDocs"]["avatar"])
    assert (await api.call("GET", f"/api/files/docs/{record_id}/{name}")).content == b"from gql"
