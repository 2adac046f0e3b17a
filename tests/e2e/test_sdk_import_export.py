"""Record export and import through the JS SDK's ``pb.send`` (the SDK has no method for them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer

#: ``pb.send`` parses every answer as JSON; a fetch wrapper keeps the raw text of an export
EXPORT = """
    let text = '';
    await client('%s').send('/api/collections/notes/export', {query: %s, fetch: async (url, options) => {
      const res = await fetch(url, options); text = await res.clone().text(); return res; }});
    return text;"""


@pytest.mark.parametrize("kind", ["roost", "roost-pg", "roost-mysql"])
def test_export_and_import_through_the_sdk(kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver) -> None:
    server = fresh_server(kind)
    run = sdk.run(server.base_url, [
        superuser_login(server, "su"),
        code("schema", """
            const su = client('su');
            for (const name of ['notes', 'copy']) {
              await su.collections.create({name, listRule: 'public = true',
                fields: [{name: 'title', type: 'text', required: true}, {name: 'public', type: 'bool'},
                         {name: 'tags', type: 'json'}, {name: 'note', type: 'text', hidden: true}]});
            }
            await su.collection('notes').create({title: 'a, "quoted"', public: true, tags: ['x'], note: 'n1'});
            await su.collection('notes').create({title: 'private', public: false, note: 'n2'});
            return true;"""),
        code("guest csv", EXPORT % ("guest", "{format: 'csv', fields: 'title,tags,note'}")),
        code("superuser jsonl", EXPORT % ("su", "{sort: 'title'}")),
        code("import", """
            const lines = (await (async () => {""" + EXPORT % ("su", "{}") + """})());
            return await client('su').send('/api/collections/copy/import', {method: 'POST', body: lines,
              headers: {'content-type': 'application/jsonl'}});"""),
        step("copied", "client('su').collection('copy').getFullList({sort: 'title', fields: 'title,note'})"),
        step("bad row", "client('su').send('/api/collections/copy/import', {method: 'POST', body: 'title,public\\r\\n,true\\r\\n', "
                        "headers: {'content-type': 'text/csv'}})"),
        step("guest import", "client('guest').send('/api/collections/copy/import', {method: 'POST', body: '{\"title\":\"x\"}\\n'})"),
    ])  # fmt: skip
    assert run["guest csv"].value == 'title,tags\r\n"a, ""quoted""","[""x""]"\r\n'
    titles = [line for line in run["superuser jsonl"].value.splitlines()]
    assert len(titles) == 2 and '"note":"n1"' in titles[0]
    assert run["import"].value["committed"] == 2 and run["import"].value["nextRow"] is None
    assert run["copied"].value == [{"title": 'a, "quoted"', "note": "n1"}, {"title": "private", "note": "n2"}]
    assert run["bad row"].status == 400
    assert run["bad row"].response["data"]["errors"][0]["data"]["title"]["code"] == "validation_required"
    assert run["guest import"].status == 403
