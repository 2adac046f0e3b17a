"""Files on S3 through the JS SDK, the same steps against PocketBase and Roost (moto as the S3
service): ``pb.settings.testS3``, upload, download, a byte range, and the masked secret."""

from __future__ import annotations

from typing import Any

from tests.s3_services import SECRET, MotoS3

from .sdk import SdkDriver, code, js, step, superuser_login
from .servers import LiveServer

BODY = "%PDF-1.4 hello s3 world"  # a type both servers serve inline
CREATE = """
await pb.collections.create({name: 's3_docs', listRule: '', viewRule: '', createRule: '',
  fields: [{name: 'doc', type: 'file', maxSelect: 1, maxSize: 100000}]});
return true;
"""
RANGE = """
const res = await fetch(pb.files.getURL(vars.rec, vars.rec.doc), {headers: {Range: 'bytes=6-10'}});
return {status: res.status, range: res.headers.get('content-range'), text: await res.text(),
        type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition').split(';')[0]};
"""


def test_files_on_s3_through_the_sdk(server: LiveServer, sdk: SdkDriver, s3_server: MotoS3) -> None:
    bucket = s3_server.new_bucket()
    run = sdk.run(server.base_url, [
        superuser_login(server),
        code("collection", CREATE),
        step("test off", "pb.settings.testS3('storage')"),
        step("enable", f"pb.settings.update({{s3: {js(s3_server.settings(bucket))}}})"),
        step("test on", "pb.settings.testS3('storage')"),
        step("test backups off", "pb.settings.testS3('backups')"),
        step("upload", f"pb.collection('s3_docs').create({{doc: new File([{js(BODY)}], 'hello.pdf', {{type: 'application/pdf'}})}})",
             save="rec"),
        step("download", "fetch(pb.files.getURL(vars.rec, vars.rec.doc)).then(r => r.text())"),
        code("range", RANGE),
        step("settings", "pb.settings.getAll()"),
    ])  # fmt: skip
    assert run["test off"].status == 400
    assert run["test off"].response["message"].endswith("S3 storage filesystem is not enabled.")
    assert "secret" not in run["enable"].value["s3"] and SECRET not in str(run["enable"].value)
    assert run["test on"].value is True
    assert run["test backups off"].status == 400
    assert run["download"].value == BODY
    assert run["range"].value == {"status": 206, "range": f"bytes 6-10/{len(BODY)}", "text": BODY[6:11],
                                  "type": "application/pdf", "disposition": "inline"}  # fmt: skip
    settings: dict[str, Any] = run["settings"].value
    assert settings["s3"] == {k: v for k, v in s3_server.settings(bucket).items() if k != "secret"}
    rec = run["upload"].value
    assert s3_server.keys(bucket) == [f"{rec['collectionId']}/{rec['id']}/{rec['doc']}"]
