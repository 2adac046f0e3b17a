"""roost.testing: the seeded test app, and a scenario runner that fails when any column is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.testing import ApiScenario, HookRecorder, TestApp, login_as, make_test_app

POSTS = {
    "name": "posts",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "fields": [{"name": "title", "type": "text"}],
}
WRITE = "on_record_after_create_success"


async def seed_post(api: TestApp) -> dict[str, str]:
    return {"id": (await api.create_record("posts", {"title": "first"}))["id"]}


@pytest.fixture
async def blog(tmp_path: Path) -> AsyncIterator[TestApp]:
    async def user(api: TestApp) -> None:
        body = {
            "email": "u@example.com",
            "password": "password123",
            "passwordConfirm": "password123",
        }
        assert (
            await api.call("POST", "/api/collections/users/records", json=body)
        ).status_code == 200

    async with make_test_app(tmp_path, collections=[POSTS], seed=user) as api:
        yield api


CREATE = ApiScenario(
    "create",
    "POST",
    "/api/collections/posts/records",
    body={"title": "x"},
    # every hook of a create, each once, and no other (PocketBase's ExpectedEvents)
    expected_hooks={
        "on_record_create_request": 1,
        "on_record_create": 1,
        "on_record_validate": 1,
        "on_record_create_execute": 1,
        WRITE: 1,
        "on_record_enrich": 1,
    },
)
PASSING = [
    ApiScenario("list as a guest", "GET", "/api/collections/posts/records", expected_content=['"totalItems":0'],
                expected_hooks={"on_records_list_request": 1}),
    CREATE,
    ApiScenario("view what before made", "GET", "/api/collections/posts/records/$id", before=seed_post,
                expected_content=['"id":"$id"', '"title":"first"'], not_expected_content=['"title":"x"']),
    ApiScenario("an auth record", "GET", "/api/collections/users/records", auth=login_as("users", "u@example.com", "password123"),
                expected_content=['"email":"u@example.com"']),
    ApiScenario("the superuser", "GET", "/api/collections", auth="superuser", expected_content=['"name":"posts"']),
]  # fmt: skip
FAILING = [
    ApiScenario("wrong status", "GET", "/api/collections", expected_status=200),
    ApiScenario("missing content", "GET", "/api/collections/posts/records", expected_content=['"totalItems":5']),
    ApiScenario("unexpected content", "GET", "/api/collections/posts/records", not_expected_content=['"items":[]']),
    ApiScenario("a hook that did not fire", "GET", "/api/collections/posts/records", expected_hooks=[WRITE]),
    ApiScenario("a hook that fired", "POST", "/api/collections/posts/records", body={}, unexpected_hooks=[WRITE]),
    ApiScenario("a hook count", "POST", "/api/collections/posts/records", body={}, expected_hooks={WRITE: 2}),
    ApiScenario("no hook at all", "POST", "/api/collections/posts/records", body={}, expected_hooks={"*": 0}),
]  # fmt: skip


@pytest.mark.parametrize("scenario", PASSING, ids=str)
async def test_a_matching_scenario_passes(blog: TestApp, scenario: ApiScenario) -> None:
    await scenario.run(blog)


@pytest.mark.parametrize("scenario", FAILING, ids=str)
async def test_each_column_can_fail_a_scenario(blog: TestApp, scenario: ApiScenario) -> None:
    with pytest.raises(AssertionError, match=f"scenario '{scenario.name}'"):
        await scenario.run(blog)


async def test_after_sees_the_response_and_the_seeded_app(blog: TestApp) -> None:
    seen = []

    async def after(api: TestApp, res: object) -> None:
        seen.append(
            (
                api is blog,
                (await api.su("GET", "/api/collections/posts/records")).json()["totalItems"],
            )
        )

    await ApiScenario(
        "create", "POST", "/api/collections/posts/records", body={"title": "y"}, after=after
    ).run(blog)
    assert seen == [(True, 1)]


async def test_the_recorder_unbinds_when_closed(blog: TestApp) -> None:
    with HookRecorder(blog.app) as recorder:
        await CREATE.run(blog)  # a recorder of its own inside
        await blog.call("POST", "/api/collections/posts/records", json={"title": "z"})
    await blog.call("POST", "/api/collections/posts/records", json={"title": "after"})
    assert recorder.count(WRITE) == 2
