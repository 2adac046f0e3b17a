"""Serving files from either backend: byte ranges, switching storage, the S3 test endpoint and
the secret that never leaves the server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.apis.conftest import Files
from tests.conftest import Api
from tests.s3_services import SECRET, MotoS3

BODY = bytes(range(256)) * 40  # 10240 bytes

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"])


async def _docs(api: Api, **field: object) -> None:
    res = await api.su("POST", "/api/collections", json={
        "name": "docs", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 50 << 20, **field}],
    })  # fmt: skip
    assert res.status_code == 200, res.text


async def _upload(api: Api, name: str, data: bytes) -> str:
    res = await api.call("POST", "/api/collections/docs/records", files=[("doc", (name, data))])
    assert res.status_code == 200, res.text
    rec = res.json()
    return f"/api/files/docs/{rec['id']}/{rec['doc']}"


@on_sqlite
@pytest.mark.parametrize(("header", "status", "content_range", "part"), [
    ("bytes=0-99", 206, "bytes 0-99/10240", BODY[:100]),
    ("bytes=10000-", 206, "bytes 10000-10239/10240", BODY[10000:]),
    ("bytes=-40", 206, "bytes 10200-10239/10240", BODY[-40:]),
    ("bytes=10200-99999", 206, "bytes 10200-10239/10240", BODY[10200:]),
    ("bytes=20000-", 416, "bytes */10240", b""),
    ("bytes=0-1,5-6", 200, None, BODY),  # several ranges: the whole file
    ("pages=1-2", 200, None, BODY),
])  # fmt: skip
async def test_byte_ranges(files: Files, header: str, status: int, content_range: str | None, part: bytes) -> None:
    await _docs(files.api)
    url = await _upload(files.api, "data.bin", BODY)
    got = await files.api.call("GET", url, headers={"Range": header})
    assert got.status_code == status
    assert got.headers.get("content-range") == content_range
    assert got.content == part
    if status != 416:
        assert got.headers["accept-ranges"] == "bytes" and int(got.headers["content-length"]) == len(part)


@on_sqlite
async def test_head_and_headers_match_on_both_backends(files: Files) -> None:
    await _docs(files.api)
    url = await _upload(files.api, "Report Q1.pdf", b"%PDF-1.4 hello")
    got = await files.api.call("GET", url)
    assert got.status_code == 200 and got.content == b"%PDF-1.4 hello"
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('inline; filename="report_q1_')
    head = await files.api.call("HEAD", url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "14"
    html = await _upload(files.api, "page.html", b"<html></html>")
    assert (await files.api.call("GET", html)).headers["content-disposition"].startswith("attachment")


@on_sqlite
async def test_switching_storage_keeps_old_files_served(api: Api, tmp_path: Path, s3_server: MotoS3) -> None:
    local = Files(api, "local", tmp_path)
    await _docs(api)
    old_url = await _upload(api, "old.txt", b"stored locally")
    bucket = s3_server.new_bucket()
    assert (await api.su("PATCH", "/api/settings", json={"s3": s3_server.settings(bucket)})).status_code == 200

    new_url = await _upload(api, "new.txt", b"stored in the bucket")
    assert [k.rsplit("/", 1)[-1] for k in s3_server.keys(bucket)] == [new_url.rsplit("/", 1)[-1]]
    assert local.local_names() == {old_url.rsplit("/", 1)[-1]}
    got = await api.call("GET", old_url, headers={"Range": "bytes=7-"})
    assert got.status_code == 206 and got.content == b"locally"

    # and back: the bucket's files stay readable while this process runs
    assert (await api.su("PATCH", "/api/settings", json={"s3": {"enabled": False}})).status_code == 200
    assert (await api.call("GET", new_url)).content == b"stored in the bucket"
    assert (await api.call("GET", old_url)).content == b"stored locally"

    # deleting a record removes its file from whichever backend holds it
    old_id = old_url.split("/")[4]
    assert (await api.call("DELETE", f"/api/collections/docs/records/{old_id}")).status_code == 204
    assert local.local_names() == set()


async def test_a_new_process_reads_local_files_after_the_switch(tmp_path: Path, s3_server: MotoS3) -> None:
    from roost.testing import make_test_app

    bucket = s3_server.new_bucket()
    async with make_test_app(tmp_path, backend="sqlite") as api:
        await _docs(api)
        old_url = await _upload(api, "old.txt", b"from before")
        assert (await api.su("PATCH", "/api/settings", json={"s3": s3_server.settings(bucket)})).status_code == 200
    async with make_test_app(tmp_path, backend="sqlite") as api:  # restarted: S3 from the settings
        assert (await api.call("GET", old_url)).content == b"from before"
        await _upload(api, "new.txt", b"to the bucket")
        assert len(s3_server.keys(bucket)) == 1


@on_sqlite
async def test_s3_test_endpoint(api: Api, s3_server: MotoS3) -> None:
    url = "/api/settings/test/s3"
    assert (await api.call("POST", url, json={"filesystem": "storage"})).status_code == 401
    res = await api.su("POST", url, json={})
    assert res.status_code == 400 and res.json()["message"] == "Failed to test the S3 filesystem."
    assert res.json()["data"] == {"filesystem": {"code": "validation_required", "message": "Cannot be blank."}}
    res = await api.su("POST", url, json={"filesystem": "x"})
    assert res.json()["data"]["filesystem"]["code"] == "validation_in_invalid"
    for name in ("storage", "backups"):
        res = await api.su("POST", url, json={"filesystem": name})
        assert res.status_code == 400 and res.json() == {
            "status": 400, "data": {},
            "message": "Failed to test the S3 filesystem. Raw error: \nS3 storage filesystem is not enabled.",
        }  # fmt: skip

    missing = s3_server.settings("roost-no-such-bucket")
    assert (await api.su("PATCH", "/api/settings", json={"s3": missing})).status_code == 200
    res = await api.su("POST", url, json={"filesystem": "storage"})
    assert res.status_code == 400 and "NoSuchBucket" in res.json()["message"]
    assert res.json()["message"].startswith("Failed to test the S3 filesystem. Raw error: \n")

    bucket = s3_server.new_bucket()
    assert (await api.su("PATCH", "/api/settings", json={"backups": {"s3": s3_server.settings(bucket)}})).status_code == 200
    assert (await api.su("POST", url, json={"filesystem": "backups"})).status_code == 204
    assert s3_server.keys(bucket) == []  # the probe is gone again


@on_sqlite
async def test_enabling_s3_needs_every_connection_value(api: Api) -> None:
    res = await api.su("PATCH", "/api/settings", json={"s3": {"enabled": True}})
    assert res.status_code == 400
    assert set(res.json()["data"]["s3"]) == {"bucket", "region", "endpoint", "accessKey", "secret"}
    res = await api.su("PATCH", "/api/settings", json={"backups": {"s3": {"enabled": True, "bucket": "b"}}})
    assert set(res.json()["data"]["backups"]["s3"]) == {"region", "endpoint", "accessKey", "secret"}


@on_sqlite
async def test_the_s3_secret_is_never_returned_or_logged(
    api: Api, s3_server: MotoS3, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bucket = s3_server.new_bucket()
    res = await api.su("PATCH", "/api/settings", json={"s3": s3_server.settings(bucket), "backups": {"s3": s3_server.settings(bucket)}})
    assert res.status_code == 200 and SECRET not in res.text
    assert "secret" not in res.json()["s3"] and "secret" not in res.json()["backups"]["s3"]
    got = await api.su("GET", "/api/settings")
    assert SECRET not in got.text and got.json()["s3"]["accessKey"] == "roost-test-key"
    await api.su("POST", "/api/settings/test/s3", json={"filesystem": "storage"})
    await api.su("PATCH", "/api/settings", json={"s3": {"bucket": "roost-missing"}})
    await api.su("POST", "/api/settings/test/s3", json={"filesystem": "storage"})
    assert SECRET not in caplog.text
    assert SECRET not in repr(api.app.storage)


def test_a_file_backed_upload_reads_only_its_head(tmp_path: Path) -> None:
    from roost.core.records.files import HEAD_BYTES, Upload

    path = tmp_path / "big.bin"
    path.write_bytes(b"%PDF-" + b"x" * (3 * HEAD_BYTES))
    with path.open("rb") as file:
        upload = Upload.from_file("big.pdf", file)
        assert upload.size == 3 * HEAD_BYTES + 5 and len(upload.data) == HEAD_BYTES
        content = upload.content()
        assert content is file and file.tell() == 0  # storage copies it from the start, in chunks


@on_sqlite
async def test_a_large_upload_round_trips_on_both_backends(files: Files) -> None:
    await _docs(files.api)
    body = bytes(range(256)) * (12 << 12)  # 12 MiB: spooled to disk, and a multipart upload on S3
    url = await _upload(files.api, "large.bin", body)
    got = await files.api.call("GET", url)
    assert got.status_code == 200 and got.content == body
    if files.s3 is not None:
        key = next(k for k in files.s3.keys(files.bucket) if url.endswith(k.rsplit("/", 1)[-1]))
        assert files.s3.head(files.bucket, key)["ETag"].strip('"').endswith("-3")


@on_sqlite
async def test_s3_settings_must_be_objects(api: Api) -> None:
    for body in ({"s3": "x"}, {"backups": "x"}, {"backups": {"s3": 5}}):
        res = await api.su("PATCH", "/api/settings", json=body)
        assert res.status_code == 400 and res.json()["message"] == "An error occurred while loading the submitted data."
    res = await api.su("POST", "/api/settings/test/s3", json={"filesystem": "backups"})
    assert res.status_code == 400
