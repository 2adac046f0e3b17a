"""Backups: /api/backups create, list, download, upload, delete and restore, on every backend,
local and on S3, plus the ``__pbAutoBackup__`` cron job."""

from __future__ import annotations

import asyncio
import io
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from roost.core.backups import AUTO_JOB, AUTO_PREFIX
from roost.core.events import BackupEvent
from roost.testing import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestApp, make_test_app
from roost.testing.databases import ServiceUnavailable
from tests.conftest import Api, skip_or_fail
from tests.s3_services import MotoS3

POSTS = {
    "name": "posts", "listRule": "", "viewRule": "", "createRule": "", "deleteRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "maxSelect": 1}],
}  # fmt: skip


async def _post(api: TestApp, title: str, content: bytes) -> dict[str, Any]:
    res = await api.call("POST", "/api/collections/posts/records", data={"title": title}, files=[("doc", ("note.txt", content))])
    assert res.status_code == 200, res.text
    return dict(res.json())


async def _titles(api: TestApp) -> list[str]:
    res = await api.call("GET", "/api/collections/posts/records", params={"sort": "title"})
    assert res.status_code == 200, res.text
    return [item["title"] for item in res.json()["items"]]


async def _file_token(api: TestApp) -> str:
    res = await api.su("POST", "/api/files/token")
    return str(res.json()["token"])


async def _download(api: TestApp, key: str) -> bytes:
    res = await api.call("GET", f"/api/backups/{key}", params={"token": await _file_token(api)})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/zip"
    assert res.headers["content-disposition"] == f'attachment; filename="{key}"'
    return res.content


async def _relogin(api: TestApp) -> None:
    api.su_token = await api.login("_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)


async def test_create_list_download_modify_and_restore(api: Api) -> None:
    await api.create_collection(POSTS)
    first = await _post(api, "a", b"first file")
    await _post(api, "b", b"second file")
    assert (await api.su("POST", "/api/backups", json={"name": "snap_1.zip"})).status_code == 204

    listed = (await api.su("GET", "/api/backups")).json()
    assert [item["key"] for item in listed] == ["snap_1.zip"]
    assert listed[0]["size"] > 0 and listed[0]["modified"].endswith("Z") and len(listed[0]["modified"]) == 24
    archive = zipfile.ZipFile(io.BytesIO(await _download(api, "snap_1.zip")))
    names = set(archive.namelist())
    assert ({"data.db"} if api.app.dialect == "sqlite" else {"roost_dump.jsonl"}) <= names
    stored = f"storage/{api.app.collections.get('posts').id}/{first['id']}/{first['doc']}"  # type: ignore[union-attr]
    assert stored in names and archive.read(stored) == b"first file"

    # change everything: a record gone, one added, a collection added, a file gone
    assert (await api.call("DELETE", f"/api/collections/posts/records/{first['id']}")).status_code == 204
    await _post(api, "c", b"third file")
    await api.create_collection({"name": "later", "fields": [{"name": "x", "type": "text"}]})

    assert (await api.su("POST", "/api/backups/snap_1.zip/restore")).status_code == 204
    await _relogin(api)
    assert await _titles(api) == ["a", "b"]
    got = await api.call("GET", f"/api/files/posts/{first['id']}/{first['doc']}")
    assert got.status_code == 200 and got.content == b"first file"
    assert (await api.su("GET", "/api/collections/later")).status_code == 404
    health = (await api.su("GET", "/api/health")).json()
    assert health["data"]["canBackup"] is True
    # the backups themselves are not part of the restored data
    assert [item["key"] for item in (await api.su("GET", "/api/backups")).json()] == ["snap_1.zip"]

    assert (await api.su("DELETE", "/api/backups/snap_1.zip")).status_code == 204
    assert (await api.su("GET", "/api/backups")).json() == []


async def test_a_backup_restores_on_a_fresh_instance(backend: str, tmp_path: Path) -> None:
    try:
        async with make_test_app(tmp_path / "one", backend=backend, collections=[POSTS]) as one:
            records = [await _post(one, f"t{i}", f"file {i}".encode()) for i in range(5)]
            assert (await one.su("POST", "/api/backups", json={})).status_code == 204
            key = (await one.su("GET", "/api/backups")).json()[0]["key"]
            assert key.startswith("pb_backup_") and key.endswith(".zip")
            archive = await _download(one, key)
        async with make_test_app(tmp_path / "two", backend=backend) as two:
            res = await two.su("POST", "/api/backups/upload", files=[("file", (key, archive))])
            assert res.status_code == 204, res.text
            assert (await two.su("POST", f"/api/backups/{key}/restore")).status_code == 204
            await _relogin(two)
            assert await _titles(two) == [f"t{i}" for i in range(5)]
            for i, record in enumerate(records):
                got = await two.call("GET", f"/api/files/posts/{record['id']}/{record['doc']}")
                assert got.status_code == 200 and got.content == f"file {i}".encode()
            # the restored instance keeps working: new records and new backups
            await _post(two, "t5", b"more")
            assert (await two.su("POST", "/api/backups", json={"name": "after.zip"})).status_code == 204
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


@pytest.mark.parametrize(("body", "code"), [
    ({"name": "bad name"}, "validation_match_invalid"),
    ({"name": "abc"}, "validation_match_invalid"),
    ({"name": "ABC.zip"}, "validation_match_invalid"),
    ({"name": "a" * 150 + ".zip"}, "validation_length_out_of_range"),
])  # fmt: skip
async def test_create_validates_the_name(api: Api, body: dict[str, Any], code: str) -> None:
    res = await api.su("POST", "/api/backups", json=body)
    assert res.status_code == 400
    assert res.json()["message"] == "An error occurred while validating the submitted data."
    assert res.json()["data"]["name"]["code"] == code


async def test_errors_match_pocketbase(api: Api) -> None:
    assert (await api.su("POST", "/api/backups", json={"name": "x.zip"})).status_code == 204
    res = await api.su("POST", "/api/backups", json={"name": "x.zip"})
    assert res.status_code == 400 and res.json()["data"]["name"]["code"] == "validation_backup_name_exists"
    res = await api.su("POST", "/api/backups", content=b"not json", headers={"content-type": "application/json"})
    assert res.status_code == 400 and res.json()["message"] == "An error occurred while loading the submitted data."
    for method, url in [("GET", "/api/backups"), ("POST", "/api/backups"), ("POST", "/api/backups/upload"),
                        ("DELETE", "/api/backups/x.zip"), ("POST", "/api/backups/x.zip/restore")]:  # fmt: skip
        assert (await api.call(method, url)).status_code == 401, url
    for params in ({}, {"token": "nope"}, {"token": api.su_token}):
        res = await api.call("GET", "/api/backups/x.zip", params=params)
        assert res.status_code == 403 and res.json()["message"] == "Insufficient permissions to access the resource."
    res = await api.call("GET", "/api/backups/missing.zip", params={"token": await _file_token(api)})
    assert res.status_code == 404
    res = await api.su("DELETE", "/api/backups/missing.zip")
    assert res.status_code == 400 and res.json()["message"].startswith("Invalid or already deleted backup file.")
    res = await api.su("POST", "/api/backups/missing.zip/restore")
    assert res.status_code == 400 and res.json()["message"] == "Missing or invalid backup file."


async def test_upload_takes_only_new_zip_archives(api: Api) -> None:
    res = await api.su("POST", "/api/backups/upload")
    assert res.status_code == 400 and res.json()["data"]["file"]["code"] == "validation_required"
    res = await api.su("POST", "/api/backups/upload", files=[("file", ("fake.zip", b"hello"))])
    assert res.status_code == 400 and res.json()["data"]["file"]["code"] == "validation_invalid_mime_type"
    assert "mime type must be one of: application/zip." in res.json()["data"]["file"]["message"]
    zipped = _zip({"hello.txt": b"hi"})
    assert (await api.su("POST", "/api/backups/upload", files=[("file", ("up.zip", zipped))])).status_code == 204
    ranged = await api.call("GET", "/api/backups/up.zip", params={"token": await _file_token(api)}, headers={"Range": "bytes=2-9"})
    assert ranged.status_code == 206 and ranged.content == zipped[2:10]
    assert ranged.headers["content-range"] == f"bytes 2-9/{len(zipped)}"
    res = await api.su("POST", "/api/backups/upload", files=[("file", ("up.zip", zipped))])
    assert res.status_code == 400 and res.json()["data"]["file"]["code"] == "validation_backup_name_exists"
    assert [i["key"] for i in (await api.su("GET", "/api/backups")).json()] == ["up.zip"]
    assert await _download(api, "up.zip") == zipped


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _corrupt(archive: bytes) -> bytes:
    """The same archive with one byte of a member's data flipped (its CRC no longer matches)."""
    at = archive.index(b"data.db") + 40
    return archive[:at] + bytes([archive[at] ^ 0xFF]) + archive[at + 1 :]


async def test_a_bad_archive_is_refused_and_the_data_stays(api: Api) -> None:
    await api.create_collection(POSTS)
    kept = await _post(api, "kept", b"kept file")
    assert (await api.su("POST", "/api/backups", json={"name": "good.zip"})).status_code == 204
    good = await _download(api, "good.zip")
    bad = {
        "empty.zip": _zip({"hello.txt": b"no database here"}),
        "junk.zip": _zip({"data.db": b"not a database", "roost_dump.jsonl": b"{not json\n", "storage/x/y/z.txt": b"z"}),
        "slip.zip": _zip({"../evil.txt": b"x", "data.db": b"x", "roost_dump.jsonl": b"x"}),
        "crc.zip": _corrupt(_zip({"data.db": good[:4096] * 8, "roost_dump.jsonl": b"x" * 4096})),
    }
    for name, archive in bad.items():
        assert (await api.su("POST", "/api/backups/upload", files=[("file", (name, archive))])).status_code == 204
        res = await api.su("POST", f"/api/backups/{name}/restore")
        assert res.status_code == 400, (name, res.text)
        assert res.json()["message"].startswith("Failed to restore backup."), res.text
        assert await _titles(api) == ["kept"], name
        got = await api.call("GET", f"/api/files/posts/{kept['id']}/{kept['doc']}")
        assert got.status_code == 200 and got.content == b"kept file", name
    assert not (Path(api.app.config.data_dir) / "evil.txt").exists()
    assert (await api.su("GET", "/api/health")).json()["data"]["canBackup"] is True


async def test_one_backup_at_a_time(api: Api) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(event: BackupEvent) -> None:
        started.set()
        await release.wait()
        await event.next()

    api.app.hooks.on_backup_create.bind(slow)
    first = asyncio.create_task(api.su("POST", "/api/backups", json={"name": "one.zip"}))
    await started.wait()
    assert (await api.su("GET", "/api/health")).json()["data"]["canBackup"] is False
    res = await api.su("POST", "/api/backups", json={"name": "two.zip"})
    assert res.status_code == 400 and res.json()["message"].startswith("Try again later")
    res = await api.su("POST", "/api/backups/one.zip/restore")
    assert res.status_code == 400
    release.set()
    assert (await first).status_code == 204
    assert (await api.su("GET", "/api/health")).json()["data"]["canBackup"] is True
    assert [i["key"] for i in (await api.su("GET", "/api/backups")).json()] == ["one.zip"]


async def test_backups_on_s3(api: Api, s3_server: MotoS3, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    res = await api.su("PATCH", "/api/settings", json={"backups": {"s3": s3_server.settings(bucket)}})
    assert res.status_code == 200, res.text
    await api.create_collection(POSTS)
    record = await _post(api, "on s3", b"file on disk")
    assert (await api.su("POST", "/api/backups", json={"name": "s3_snap.zip"})).status_code == 204
    assert s3_server.keys(bucket) == ["s3_snap.zip"]
    assert not (Path(api.app.config.data_dir) / "backups" / "s3_snap.zip").exists()
    listed = (await api.su("GET", "/api/backups")).json()
    assert [i["key"] for i in listed] == ["s3_snap.zip"] and listed[0]["size"] > 0
    assert zipfile.ZipFile(io.BytesIO(await _download(api, "s3_snap.zip"))).testzip() is None

    await _post(api, "later", b"x")
    assert (await api.su("POST", "/api/backups/s3_snap.zip/restore")).status_code == 204
    await _relogin(api)
    assert await _titles(api) == ["on s3"]
    assert (await api.call("GET", f"/api/files/posts/{record['id']}/{record['doc']}")).content == b"file on disk"
    zipped = _zip({"data.db": b"x"})
    assert (await api.su("POST", "/api/backups/upload", files=[("file", ("up.zip", zipped))])).status_code == 204
    assert sorted(s3_server.keys(bucket)) == ["s3_snap.zip", "up.zip"]
    assert (await api.su("DELETE", "/api/backups/s3_snap.zip")).status_code == 204
    assert s3_server.keys(bucket) == ["up.zip"]


async def test_auto_backups_follow_the_cron_setting_and_keep_the_newest(api: Api) -> None:
    assert AUTO_JOB not in {job.id for job in api.app.cron.jobs()}
    res = await api.su("PATCH", "/api/settings", json={"backups": {"cron": "0 3 * * *", "cronMaxKeep": 2}})
    assert res.status_code == 200, res.text
    crons = (await api.su("GET", "/api/crons")).json()
    assert {"id": AUTO_JOB, "expression": "0 3 * * *"} in crons

    folder = Path(api.app.config.data_dir) / "backups"
    folder.mkdir(exist_ok=True)
    old = [f"{AUTO_PREFIX}old_2020010{i}000000.zip" for i in range(3)]
    for age, name in enumerate(reversed(old), 1):
        (folder / name).write_bytes(_zip({"x": b"x"}))
        stamp = time.time() - age * 86400
        os.utime(folder / name, (stamp, stamp))
    (folder / "manual.zip").write_bytes(_zip({"x": b"x"}))
    os.utime(folder / "manual.zip", (0, 0))  # older than all, but not an automatic backup

    await api.app.cron.run(AUTO_JOB)
    keys = [i["key"] for i in (await api.su("GET", "/api/backups")).json()]
    made = [k for k in keys if k.startswith(AUTO_PREFIX) and k not in old]
    assert len(made) == 1
    assert sorted(keys) == sorted([made[0], old[2], "manual.zip"])

    res = await api.su("PATCH", "/api/settings", json={"backups": {"cron": ""}})
    assert AUTO_JOB not in {job.id for job in api.app.cron.jobs()}


async def test_the_schedule_settings_are_validated(api: Api) -> None:
    res = await api.su("PATCH", "/api/settings", json={"backups": {"cron": "bad cron", "cronMaxKeep": -1}})
    assert res.status_code == 400
    errors = res.json()["data"]["backups"]
    assert errors["cron"]["code"] == "validation_invalid_cron"
    assert errors["cronMaxKeep"] == {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 1.", "params": {"threshold": 1}}
    res = await api.su("PATCH", "/api/settings", json={"backups": {"cron": "@daily", "cronMaxKeep": 0}})
    assert res.status_code == 400 and res.json()["data"]["backups"]["cronMaxKeep"]["code"] == "validation_required"
    assert AUTO_JOB not in {job.id for job in api.app.cron.jobs()}


def _with_duplicate_last_row(archive: bytes) -> bytes:
    """The archive with the dump's last row written twice: the restore fails at its very end."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "roost_dump.jsonl":
                lines = data.splitlines(keepends=True)
                last_row = max(i for i, line in enumerate(lines) if line.startswith(b"["))
                lines.insert(last_row + 1, lines[last_row])
                data = b"".join(lines)
            target.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
async def test_a_restore_failing_part_way_leaves_the_data_and_files(backend: str, tmp_path: Path) -> None:
    try:
        async with make_test_app(tmp_path, backend=backend, collections=[POSTS]) as api:
            first = await _post(api, "first", b"first file")
            assert (await api.su("POST", "/api/backups", json={"name": "base.zip"})).status_code == 204
            broken = _with_duplicate_last_row(await _download(api, "base.zip"))
            second = await _post(api, "second", b"second file")
            res = await api.su("POST", "/api/backups/upload", files=[("file", ("broken.zip", broken))])
            assert res.status_code == 204, res.text
            res = await api.su("POST", "/api/backups/broken.zip/restore")
            assert res.status_code == 400 and res.json()["message"].startswith("Failed to restore backup."), res.text
            assert await _titles(api) == ["first", "second"]
            for record, content in ((first, b"first file"), (second, b"second file")):
                got = await api.call("GET", f"/api/files/posts/{record['id']}/{record['doc']}")
                assert got.status_code == 200 and got.content == content
            schema = "DATABASE()" if backend == "mysql" else "current_schema()"
            leftovers = await api.app.db.fetch_all(
                f"SELECT table_name AS t FROM information_schema.tables WHERE table_schema = {schema} "
                "AND (table_name LIKE '\\_rst\\_%' OR table_name LIKE '\\_old\\_%')"
            )
            assert leftovers == []
            # the good backup still restores afterwards
            assert (await api.su("POST", "/api/backups/base.zip/restore")).status_code == 204
            await _relogin(api)
            assert await _titles(api) == ["first"]
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


async def test_a_backup_with_settings_sealed_by_another_key_is_refused(backend: str, tmp_path: Path) -> None:
    try:
        async with make_test_app(tmp_path / "one", backend=backend, encryption_key="k" * 32) as one:
            assert (await one.su("PATCH", "/api/settings", json={"meta": {"appName": "Sealed"}})).status_code == 200
            assert (await one.su("POST", "/api/backups", json={"name": "sealed.zip"})).status_code == 204
            archive = await _download(one, "sealed.zip")
        async with make_test_app(tmp_path / "two", backend=backend, collections=[POSTS]) as two:
            await _post(two, "mine", b"my file")
            assert (await two.su("POST", "/api/backups/upload", files=[("file", ("sealed.zip", archive))])).status_code == 204
            res = await two.su("POST", "/api/backups/sealed.zip/restore")
            assert res.status_code == 400 and "settings cannot be read here" in res.json()["message"], res.text
            assert await _titles(two) == ["mine"]
            assert (await two.su("GET", "/api/settings")).json()["meta"]["appName"] != "Sealed"
        async with make_test_app(tmp_path / "three", backend=backend, encryption_key="k" * 32) as three:
            assert (await three.su("POST", "/api/backups/upload", files=[("file", ("sealed.zip", archive))])).status_code == 204
            assert (await three.su("POST", "/api/backups/sealed.zip/restore")).status_code == 204
            await _relogin(three)
            assert (await three.su("GET", "/api/settings")).json()["meta"]["appName"] == "Sealed"
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


async def test_hooks_may_rename_and_leave_out_files(api: Api) -> None:
    await api.create_collection(POSTS)
    await _post(api, "a", b"left out")

    async def without_files(event: BackupEvent) -> None:
        event.name = "renamed_by_hook.zip"
        event.exclude.append("storage")
        await event.next()

    api.app.hooks.on_backup_create.bind(without_files)
    assert (await api.su("POST", "/api/backups", json={})).status_code == 204
    archive = zipfile.ZipFile(io.BytesIO(await _download(api, "renamed_by_hook.zip")))
    assert archive.namelist() and not [n for n in archive.namelist() if n.startswith("storage/")]


async def test_a_failed_auto_backup_alerts_every_superuser_by_mail(mail_api: Api, mail_sink: Any) -> None:
    async def refuse(event: BackupEvent) -> None:
        raise RuntimeError("disk on fire")

    mail_api.app.hooks.on_backup_create.bind(refuse)
    res = await mail_api.su("PATCH", "/api/settings", json={"backups": {"cron": "@daily", "cronMaxKeep": 1}})
    assert res.status_code == 200, res.text
    await mail_api.app.cron.run(AUTO_JOB)
    mail = (await mail_sink.receive(SUPERUSER_EMAIL))[0]
    assert mail.subject == "[Roost Test system alert] Autobackup failure"
    assert "disk on fire" in mail.text and AUTO_PREFIX in mail.text
    assert (await mail_api.su("GET", "/api/backups")).json() == []
