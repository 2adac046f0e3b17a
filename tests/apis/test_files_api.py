"""File fields: upload, download, replace, protected access and cleanup."""

from __future__ import annotations

from tests.apis.conftest import Files

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_upload_download_replace_and_delete(files: Files) -> None:
    api = files.api
    res = await api.su("POST", "/api/collections", json={
        "name": "docs", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "files", "type": "file", "maxSelect": 3, "maxSize": 1000},
                   {"name": "pic", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    res = await api.call("POST", "/api/collections/docs/records",
                         files=[("files", ("Hello World.txt", b"hello")), ("files", ("b.txt", b"bee")), ("pic", ("p.png", PNG))])  # fmt: skip
    assert res.status_code == 200, res.text
    rec = res.json()
    assert len(rec["files"]) == 2 and rec["files"][0].startswith("hello_world_") and rec["files"][0].endswith(".txt")
    first = rec["files"][0]
    got = await api.call("GET", f"/api/files/docs/{rec['id']}/{first}")
    assert got.status_code == 200 and got.content == b"hello"
    got = await api.call("GET", f"/api/files/docs/{rec['id']}/{first}", params={"download": "1"})
    assert got.headers["content-disposition"].startswith("attachment")

    res = await api.call("PATCH", f"/api/collections/docs/records/{rec['id']}", json={"files-": [first]})
    assert res.status_code == 200 and first not in res.json()["files"]
    assert (await api.call("GET", f"/api/files/docs/{rec['id']}/{first}")).status_code == 404
    assert first not in files.stored()

    res = await api.call("POST", "/api/collections/docs/records", files=[("pic", ("x.txt", b"not an image"))])
    assert res.status_code == 400 and res.json()["data"]["pic"]["code"] == "validation_invalid_mime_type"
    res = await api.call("POST", "/api/collections/docs/records", files=[("files", ("big.txt", b"x" * 2000))])
    assert res.json()["data"]["files"]["code"] == "validation_file_size_limit"

    assert (await api.call("DELETE", f"/api/collections/docs/records/{rec['id']}")).status_code == 204
    assert not set(rec["files"] + [rec["pic"]]) & files.stored()
    assert not files.stored() and (files.kind == "local" or not files.local_names())


async def test_protected_file_needs_a_file_token(files: Files) -> None:
    api = files.api
    res = await api.su("POST", "/api/collections", json={
        "name": "private", "listRule": "", "viewRule": "@request.auth.id != ''", "createRule": "",
        "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "protected": True}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    rec = (await api.call("POST", "/api/collections/private/records", files=[("doc", ("secret.txt", b"s3cret"))])).json()
    url = f"/api/files/private/{rec['id']}/{rec['doc']}"
    assert (await api.call("GET", url)).status_code == 404
    body = {"email": "f@example.com", "password": "password123", "passwordConfirm": "password123"}
    assert (await api.call("POST", "/api/collections/users/records", json=body)).status_code == 200
    token = await api.login("users", "f@example.com", "password123")
    file_token = (await api.call("POST", "/api/files/token", token=token)).json()["token"]
    got = await api.call("GET", url, params={"token": file_token})
    assert got.status_code == 200 and got.content == b"s3cret"
    assert (await api.call("GET", url, params={"token": token})).status_code == 404  # an auth token is not a file token


async def test_a_failed_batch_leaves_storage_as_it_was(files: Files) -> None:
    import json

    api = files.api

    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    res = await api.su("POST", "/api/collections", json={
        "name": "docs", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "title", "type": "text", "required": True}, {"name": "doc", "type": "file", "maxSelect": 1}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    kept = (await api.call("POST", "/api/collections/docs/records", data={"title": "kept"}, files=[("doc", ("old.txt", b"old"))])).json()
    gone = (await api.call("POST", "/api/collections/docs/records", data={"title": "gone"}, files=[("doc", ("del.txt", b"del"))])).json()
    before = files.stored()
    assert before == {kept["doc"], gone["doc"]}
    requests = [
        {"method": "POST", "url": "/api/collections/docs/records", "body": {"title": "new"}},
        {"method": "PATCH", "url": f"/api/collections/docs/records/{kept['id']}", "body": {}},
        {"method": "DELETE", "url": f"/api/collections/docs/records/{gone['id']}"},
        {"method": "POST", "url": "/api/collections/docs/records", "body": {"title": ""}},  # fails: required
    ]
    res = await api.call("POST", "/api/batch", data={"@jsonPayload": json.dumps({"requests": requests})},
                         files=[("requests.0.doc", ("new.txt", b"new")), ("requests.1.doc", ("replacement.txt", b"rep"))])  # fmt: skip
    assert res.status_code == 400, res.text
    assert files.stored() == before
    for rec in (kept, gone):
        got = await api.call("GET", f"/api/files/docs/{rec['id']}/{rec['doc']}")
        assert got.status_code == 200, got.text
