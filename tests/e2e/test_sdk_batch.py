"""Batch requests through the JS SDK's createBatch()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .s3_server_kind import KINDS_WITH_S3, server_with_s3
from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer


@pytest.fixture(scope="module", params=KINDS_WITH_S3)
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """Each server kind, plus Roost with its files on S3."""
    yield from server_with_s3(request)


def test_batch_create_update_upsert_delete_and_rollback(server: LiveServer, sdk: SdkDriver) -> None:
    run = sdk.run(server.base_url, [
        superuser_login(server),
        step("disabled", "(() => { const b = pb.createBatch();"
                         " b.collection('users').create({}); return b.send(); })()"),
        step("enable", "pb.settings.update({batch: {enabled: true, maxRequests: 10}})"
                       ".then(s => s.batch.enabled)"),
        step("collection", "pb.collections.create({name: 'batch_todos', listRule: '', viewRule: '',"
                           " createRule: '', updateRule: '', deleteRule: '',"
                           " fields: [{name: 'task', type: 'text', required: true}, {name: 'done', type: 'bool'},"
                           " {name: 'file', type: 'file', maxSelect: 1}]})"),
        code("first batch", """
            const b = pb.createBatch();
            b.collection('batch_todos').create({id: 'todo00000000001', task: 'write tests'});
            b.collection('batch_todos').create({task: 'ship', file: new File(['x'], 'plan.txt', {type: 'text/plain'})});
            b.collection('batch_todos').upsert({id: 'todo00000000003', task: 'upserted new'});
            return b.send();"""),
        code("second batch", """
            const b = pb.createBatch();
            b.collection('batch_todos').update('todo00000000001', {done: true});
            b.collection('batch_todos').upsert({id: 'todo00000000003', task: 'upserted existing'});
            b.collection('batch_todos').delete('todo00000000003');
            return b.send();"""),
        code("failing batch", """
            const b = pb.createBatch();
            b.collection('batch_todos').create({task: 'never stored'});
            b.collection('batch_todos').create({task: ''});
            return b.send();"""),
        step("guest batch", "(() => { const b = client('guest').createBatch();"
                            " b.collection('batch_todos').create({task: 'from guest'}); return b.send(); })()"),
        step("list", "pb.collection('batch_todos').getFullList({sort: 'task', fields: 'id,task,done'})"),
    ])
    assert run["disabled"].status == 403
    assert run["disabled"].response["message"] == "Batch requests are not allowed."
    assert run["enable"].value is True
    first = run["first batch"].value
    assert [item["status"] for item in first] == [200, 200, 200]
    assert first[0]["body"]["id"] == "todo00000000001"
    assert first[1]["body"]["file"].startswith("plan_")
    assert first[2]["body"]["task"] == "upserted new"
    second = run["second batch"].value
    assert [item["status"] for item in second] == [200, 200, 204]
    assert second[0]["body"]["done"] is True
    assert second[1]["body"]["task"] == "upserted existing"
    failing = run["failing batch"]
    assert failing.status == 400
    assert failing.response["message"] == "Batch transaction failed."
    nested = failing.response["data"]["requests"]["1"]
    assert nested["code"] == "batch_request_failed"
    assert nested["response"]["status"] == 400
    assert nested["response"]["data"]["task"]["code"] == "validation_required"
    guest = run["guest batch"].value
    assert guest[0]["status"] == 200
    tasks = [row["task"] for row in run["list"].value]
    assert tasks == ["from guest", "ship", "write tests"]
