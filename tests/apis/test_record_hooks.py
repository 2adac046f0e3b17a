"""Record hooks through every way a record is written or delivered: REST, batch, realtime.

Four handlers, each checked through all three: a before-create hook that rejects a record, one
that changes a field, an after-success hook, and a hook bound to one collection. A
``HookRecorder`` checks which hooks fired, as the scenario tables of the API tests will.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from roost.core.errors import BadRequest, FieldError
from roost.core.events import RecordEvent, RequestInfo
from roost.core.realtime.hub import Client
from roost.core.records.save import fetch_record
from roost.testing.hooks import HookRecorder, missing_and_unexpected
from tests.conftest import Api


@pytest.fixture
async def world(api: Api) -> Api:
    """Public ``posts`` and ``tags`` collections (anyone may list, view and create)."""
    for name, field in (("posts", "title"), ("tags", "label")):
        res = await api.su("POST", "/api/collections", json={
            "name": name, "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
            "fields": [{"name": field, "type": "text"}],
        })  # fmt: skip
        assert res.status_code == 200, res.text
    return api


async def subscribe(api: Api, *topics: str) -> Client:
    hub = api.app.realtime
    await hub.drain()
    client = hub.connect("127.0.0.1")
    res = await api.call(
        "POST", "/api/realtime", json={"clientId": client.id, "subscriptions": list(topics)}
    )
    assert res.status_code == 204, res.text
    return client


async def delivered(api: Api, client: Client) -> list[dict[str, Any]]:
    await api.app.realtime.drain()
    return [orjson.loads(item[1]) for item in client.outbox.take_ready(10_000) if item is not None]


async def rest_create(api: Api, collection: str, body: dict[str, Any]) -> Any:
    return await api.call("POST", f"/api/collections/{collection}/records", json=body)


async def batch_create(api: Api, *items: tuple[str, dict[str, Any]]) -> Any:
    requests = [
        {"method": "POST", "url": f"/api/collections/{c}/records", "body": b} for c, b in items
    ]
    return await api.call("POST", "/api/batch", json={"requests": requests})


async def stored(api: Api, collection: str) -> list[dict[str, Any]]:
    res = await api.su("GET", f"/api/collections/{collection}/records")
    assert res.status_code == 200, res.text
    return list(res.json()["items"])


@pytest.fixture
async def batch_enabled(world: Api) -> Api:
    res = await world.su(
        "PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}}
    )
    assert res.status_code == 200, res.text
    return world


# ----- a before-create hook that rejects ----------------------------------------------------------
def reject_drafts(api: Api) -> None:
    async def reject(e: RecordEvent) -> None:
        if str(e.record.get("title", "")).startswith("draft"):
            raise BadRequest(
                "Drafts are not published.", {"title": FieldError("no_drafts", "No drafts.")}
            )
        await e.next()

    api.app.hooks.on_record_create.bind(reject)


async def test_a_rejecting_hook_answers_its_error_over_rest_and_stores_and_delivers_nothing(
    world: Api,
) -> None:
    reject_drafts(world)
    client = await subscribe(world, "posts")
    res = await rest_create(world, "posts", {"title": "draft: soon"})
    assert res.status_code == 400
    assert res.json() == {
        "status": 400, "message": "Drafts are not published.", "data": {"title": {"code": "no_drafts", "message": "No drafts."}},
    }  # fmt: skip
    assert await stored(world, "posts") == []
    assert await delivered(world, client) == []
    assert (await rest_create(world, "posts", {"title": "final"})).status_code == 200


async def test_a_rejecting_hook_fails_the_whole_batch_with_the_nested_error(
    batch_enabled: Api,
) -> None:
    api = batch_enabled
    reject_drafts(api)
    client = await subscribe(api, "posts", "tags")
    res = await batch_create(api, ("tags", {"label": "kept?"}), ("posts", {"title": "draft: no"}))
    assert res.status_code == 400, res.text
    body = res.json()
    assert body["message"] == "Batch transaction failed."
    inner = body["data"]["requests"]["1"]
    assert inner["code"] == "batch_request_failed"
    assert inner["response"]["status"] == 400
    assert inner["response"]["message"] == "Drafts are not published."
    assert await stored(api, "tags") == []  # the first item went with the rollback
    assert await stored(api, "posts") == []
    assert await delivered(api, client) == []


# ----- a before-create hook that changes a field --------------------------------------------------
def shout_titles(api: Api) -> None:
    def shout(e: RecordEvent) -> Any:  # a plain function continues by returning next()
        e.record["title"] = str(e.record.get("title", "")).upper()
        return e.next()

    api.app.hooks.on_record_create.bind(shout)


async def test_a_changed_field_is_stored_returned_and_delivered_over_rest(world: Api) -> None:
    shout_titles(world)
    client = await subscribe(world, "posts")
    res = await rest_create(world, "posts", {"title": "hello"})
    assert res.status_code == 200, res.text
    assert res.json()["title"] == "HELLO"
    assert [r["title"] for r in await stored(world, "posts")] == ["HELLO"]
    events = await delivered(world, client)
    assert [(e["action"], e["record"]["title"]) for e in events] == [("create", "HELLO")]


async def test_a_changed_field_is_stored_returned_and_delivered_over_batch(
    batch_enabled: Api,
) -> None:
    api = batch_enabled
    shout_titles(api)
    client = await subscribe(api, "posts")
    res = await batch_create(api, ("posts", {"title": "one"}), ("posts", {"title": "two"}))
    assert res.status_code == 200, res.text
    assert [item["body"]["title"] for item in res.json()] == ["ONE", "TWO"]
    assert [r["title"] for r in await stored(api, "posts")] == ["ONE", "TWO"]
    assert [e["record"]["title"] for e in await delivered(api, client)] == ["ONE", "TWO"]


# ----- an after-success hook ----------------------------------------------------------------------
def count_committed(api: Api) -> list[tuple[str, bool]]:
    """(title, visible to a fresh read) per after-success call."""
    seen: list[tuple[str, bool]] = []

    async def after(e: RecordEvent) -> None:
        # outside the write's transaction, so only a committed record is found
        visible = await fetch_record(e.app, e.collection, e.record["id"]) is not None
        seen.append((str(e.record.get("title")), visible))
        await e.next()

    api.app.hooks.on_record_after_create_success.bind(after)
    return seen


async def test_an_after_success_hook_runs_once_after_the_commit_over_rest(world: Api) -> None:
    seen = count_committed(world)
    client = await subscribe(world, "posts")
    assert (await rest_create(world, "posts", {"title": "a"})).status_code == 200
    assert seen == [("a", True)]
    assert len(await delivered(world, client)) == 1
    assert (await rest_create(world, "posts", {"title": "b"})).status_code == 200
    assert seen == [("a", True), ("b", True)]


async def test_an_after_success_hook_waits_for_the_batch_and_never_runs_for_a_failed_one(
    batch_enabled: Api,
) -> None:
    api = batch_enabled
    seen = count_committed(api)
    errors: list[str] = []

    async def failed(e: Any) -> None:
        errors.append(type(e.error).__name__)
        await e.next()

    api.app.hooks.on_record_after_create_error.bind(failed)
    res = await batch_create(api, ("posts", {"title": "b1"}), ("posts", {"title": "b2"}))
    assert res.status_code == 200, res.text
    assert seen == [("b1", True), ("b2", True)]  # each ran once the whole batch had committed
    bad = {"method": "PATCH", "url": "/api/collections/posts/records/missing", "body": {}}
    first = {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "b3"}}
    res = await api.call("POST", "/api/batch", json={"requests": [first, bad]})
    assert res.status_code == 400, res.text
    assert len(seen) == 2
    assert errors == ["RolledBack"]  # the write of b3 succeeded, then its transaction rolled back


async def test_an_after_success_hook_that_fails_changes_nothing_for_the_caller(world: Api) -> None:
    async def broken(e: RecordEvent) -> None:
        raise RuntimeError("the webhook is down")

    world.app.hooks.on_record_after_create_success.bind(broken)
    client = await subscribe(world, "posts")
    res = await rest_create(world, "posts", {"title": "still fine"})
    assert res.status_code == 200, res.text
    assert [r["title"] for r in await stored(world, "posts")] == ["still fine"]
    assert len(await delivered(world, client)) == 1


# ----- a hook bound to one collection -------------------------------------------------------------
def tag_posts_only(api: Api) -> list[str]:
    seen: list[str] = []

    async def posts_only(e: RecordEvent) -> None:
        seen.append(e.collection.name)
        e.record["title"] = "tagged"
        await e.next()

    api.app.hooks.on_record_create.for_collections("posts").bind(posts_only)
    return seen


async def test_a_collection_hook_fires_for_its_collection_only_over_rest_and_realtime(
    world: Api,
) -> None:
    seen = tag_posts_only(world)
    client = await subscribe(world, "posts", "tags")
    assert (await rest_create(world, "tags", {"label": "t"})).status_code == 200
    res = await rest_create(world, "posts", {"title": "p"})
    assert res.json()["title"] == "tagged"
    assert seen == ["posts"]
    events = await delivered(world, client)
    assert [(e["record"]["collectionName"], e["record"].get("title", e["record"].get("label"))) for e in events] == [
        ("tags", "t"), ("posts", "tagged"),
    ]  # fmt: skip


async def test_a_collection_hook_fires_for_its_collection_only_over_batch(
    batch_enabled: Api,
) -> None:
    api = batch_enabled
    seen = tag_posts_only(api)
    res = await batch_create(
        api, ("tags", {"label": "t"}), ("posts", {"title": "p"}), ("tags", {"label": "u"})
    )
    assert res.status_code == 200, res.text
    assert seen == ["posts"]
    assert [r["label"] for r in await stored(api, "tags")] == ["t", "u"]


# ----- which hooks fire -----------------------------------------------------------------------------
REST_CREATE = ["on_record_create_request", "on_record_create", "on_record_validate", "on_record_create_execute",
               "on_record_after_create_success", "on_record_enrich"]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "body", "expected", "unexpected"),
    [
        ("POST", "/api/collections/posts/records", {"title": "x"}, REST_CREATE, ["on_record_update", "on_batch_request"]),
        ("GET", "/api/collections/posts/records", None, ["on_records_list_request"], ["on_record_create", "on_record_enrich"]),
        ("POST", "/api/collections/posts/records", {"title": 5, "id": "bad id!"}, ["on_record_create_request",
         "on_record_create", "on_record_validate", "on_record_after_create_error"], ["on_record_create_execute"]),
        ("POST", "/api/collections/missing/records", {}, [], ["on_record_create_request", "on_record_create"]),
    ],
)  # fmt: skip
async def test_rest_requests_fire_their_hooks(
    world: Api, method: str, url: str, body: Any, expected: list[str], unexpected: list[str]
) -> None:
    with HookRecorder(world.app) as hooks:
        await world.call(method, url, json=body)
    assert missing_and_unexpected(hooks.names(), expected, unexpected) == []


async def test_the_model_level_hooks_fire_in_pipeline_order(world: Api) -> None:
    with HookRecorder(world.app) as hooks:
        await rest_create(world, "posts", {"title": "ordered"})
    assert hooks.names(collection="posts") == REST_CREATE


async def test_a_batch_fires_the_same_record_hooks_inside_its_own(batch_enabled: Api) -> None:
    with HookRecorder(batch_enabled.app) as hooks:
        res = await batch_create(batch_enabled, ("posts", {"title": "b"}))
        assert res.status_code == 200, res.text
    names = hooks.names()
    assert names[0] == "on_batch_request"
    # presented inside the transaction; after-success waits for the commit
    assert names.index("on_record_enrich") < names.index("on_record_after_create_success")
    assert missing_and_unexpected(names, ["on_batch_request", *REST_CREATE]) == []


async def test_realtime_delivery_fires_enrich_and_message_send(world: Api) -> None:
    client = await subscribe(world, "posts")
    with HookRecorder(world.app, only=["on_record_enrich", "on_realtime_message_send"]) as hooks:
        assert (
            await world.su("POST", "/api/collections/posts/records", json={"title": "live"})
        ).status_code == 200
        events = await delivered(world, client)
    assert len(events) == 1
    # once for the REST answer, once for the subscriber, then the message itself
    assert (
        missing_and_unexpected(
            hooks.names(), ["on_record_enrich"] * 2 + ["on_realtime_message_send"]
        )
        == []
    )


async def test_enrich_handlers_shape_every_presented_record(world: Api) -> None:
    async def computed(e: Any) -> None:
        e.data["shout"] = str(e.data.get("title", "")).upper()
        await e.next()

    world.app.hooks.on_record_enrich.for_collections("posts").bind(computed)
    client = await subscribe(world, "posts")
    res = await rest_create(world, "posts", {"title": "hey"})
    assert res.json()["shout"] == "HEY"
    listed = await world.call("GET", "/api/collections/posts/records?fields=id,shout")
    assert [set(item) for item in listed.json()["items"]] == [{"id", "shout"}]
    assert [e["record"]["shout"] for e in await delivered(world, client)] == ["HEY"]


async def test_internal_writes_fire_model_hooks_with_no_request(world: Api) -> None:
    from roost.core.records.save import save_new

    posts = world.app.collections.get("posts")
    infos: list[RequestInfo | None] = []

    async def remember(e: RecordEvent) -> None:
        infos.append(e.info)
        await e.next()

    world.app.hooks.on_record_create.bind(remember)
    with HookRecorder(world.app) as hooks:
        await save_new(world.app, posts, {"title": "from a job"})
    assert infos == [None]
    assert "on_record_create_request" not in hooks.names()
    assert "on_record_after_create_success" in hooks.names()
