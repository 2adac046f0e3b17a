"""pb.backups through the JS SDK on live servers: the same steps answer as the reference server
does, and a backup taken on one Roost restores on a fresh one with every record and file back."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from .sdk import SdkDriver, code, js, step, superuser_login
from .servers import LiveServer


def _zip_b64() -> str:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "uploaded through the sdk")
    return base64.b64encode(out.getvalue()).decode()


UPLOAD = """
const bytes = Uint8Array.from(atob(%s), (c) => c.charCodeAt(0));
await pb.backups.upload({file: new File([bytes], %s, {type: 'application/zip'})});
return true;
"""
DOWNLOAD = """
const token = await pb.files.getToken();
const res = await fetch(pb.backups.getDownloadURL(token, %s));
const body = new Uint8Array(await res.arrayBuffer());
return {status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'),
        zip: body[0] === 0x50 && body[1] === 0x4b};
"""


def _steps(server: LiveServer) -> list[dict[str, str]]:
    return [
        step("guest list", "client('guest').backups.getFullList()"),
        superuser_login(server),
        step("empty", "pb.backups.getFullList()"),
        step("create", "pb.backups.create('sdk_one.zip')"),
        step("create again", "pb.backups.create('sdk_one.zip')"),
        step("create bad name", "pb.backups.create('Not Valid')"),
        code("upload", UPLOAD % (js(_zip_b64()), js("sdk_up.zip"))),
        code("upload again", UPLOAD % (js(_zip_b64()), js("sdk_up.zip"))),
        step("list", "pb.backups.getFullList()"),
        code("download", DOWNLOAD % js("sdk_one.zip")),
        step("restore missing", "pb.backups.restore('nope.zip')"),
        step("delete", "pb.backups.delete('sdk_up.zip')"),
        step("list after delete", "pb.backups.getFullList()"),
    ]


def _normalised(run: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("guest list", "create again", "create bad name", "upload again", "restore missing"):
        out[name] = (run[name].status, run[name].response)
    for name in ("empty", "create", "upload", "download", "delete"):
        out[name] = run[name].value
    for name in ("list", "list after delete"):
        items = run[name].value
        assert all(item["size"] > 0 and item["modified"].endswith("Z") for item in items)
        out[name] = [item["key"] for item in items]
    return out


@pytest.mark.parametrize("kind", ["roost", "roost-pg"])
def test_backups_through_the_sdk_match_the_reference(
    kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver
) -> None:
    reference, roost = fresh_server("pocketbase"), fresh_server(kind)
    expected = _normalised(sdk.run(reference.base_url, _steps(reference)))
    actual = _normalised(sdk.run(roost.base_url, _steps(roost)))
    assert actual == expected
    assert expected["list"] == ["sdk_one.zip", "sdk_up.zip"] and expected["list after delete"] == ["sdk_one.zip"]
    assert expected["download"] == {"status": 200, "type": "application/zip",
                                    "disposition": 'attachment; filename="sdk_one.zip"', "zip": True}  # fmt: skip


SEED = """
await pb.collections.create({name: 'notes', listRule: '', viewRule: '', createRule: '',
  fields: [{name: 'title', type: 'text'}, {name: 'doc', type: 'file', maxSelect: 1}]});
const made = [];
for (let i = 0; i < 4; i++) {
  made.push(await pb.collection('notes').create({title: 'note ' + i, doc: new File(['file ' + i], 'n.txt', {type: 'text/plain'})}));
}
return made;
"""
CHECK = """
const items = await pb.collection('notes').getFullList({sort: 'title'});
const files = [];
for (const item of items) files.push(await (await fetch(pb.files.getURL(item, item.doc))).text());
return {titles: items.map((i) => i.title), files, ids: items.map((i) => i.id)};
"""


@pytest.mark.parametrize("kind", ["roost", "roost-pg", "roost-mysql"])
def test_a_backup_restores_on_a_fresh_server(kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver) -> None:
    one = fresh_server(kind)
    run = sdk.run(one.base_url, [superuser_login(one), code("seed", SEED), step("backup", "pb.backups.create('moved.zip')")])
    made = run["seed"].value
    with one.client() as http:
        token = http.post("/api/files/token", headers={"Authorization": one.superuser_token()}).json()["token"]
        archive = http.get("/api/backups/moved.zip", params={"token": token})
    assert archive.status_code == 200 and archive.content[:2] == b"PK"

    two = fresh_server(kind)
    restore = sdk.run(two.base_url, [
        superuser_login(two),
        code("upload", UPLOAD % (js(base64.b64encode(archive.content).decode()), js("moved.zip"))),
        step("restore", "pb.backups.restore('moved.zip')"),
        superuser_login(two, "again"),
        code("check", CHECK.replace("pb.", "client('again').")),
    ])  # fmt: skip
    assert restore["restore"].value is True
    assert restore["check"].value == {
        "titles": [f"note {i}" for i in range(4)],
        "files": [f"file {i}" for i in range(4)],
        "ids": [m["id"] for m in sorted(made, key=lambda m: m["title"])],
    }
