"""Abuse limits of /api/graphql: depth, aliases, fields (fragments expanded), tokens, introspection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query

from roost.testing import TestApp, make_test_app

LIMITS = {"graphql_max_depth": 4, "graphql_max_aliases": 2, "graphql_max_fields": 12, "graphql_introspection": False}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestApp]:
    async with make_test_app(tmp_path, **LIMITS) as app:
        users = (await app.su("PATCH", "/api/collections/users", json={"listRule": "", "viewRule": ""})).json()
        await app.create_collection({"name": "posts", "listRule": "", "viewRule": "", "fields": [
            {"name": "title", "type": "text"}, {"name": "author", "type": "relation", "collectionId": users["id"]}]})  # fmt: skip
        yield app


async def ask(api: TestApp, query: str, token: str | None = None) -> dict[str, Any]:
    res = await api.call("POST", "/api/graphql", token=token, json={"query": query})
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


def only_error(answer: dict[str, Any]) -> tuple[str, str]:
    assert "data" not in answer, answer
    error = answer["errors"][0]  # introspection refusals name each introspection field
    return error["message"], error["extensions"]["code"]


async def test_depth(api: TestApp) -> None:
    assert "errors" not in await ask(api, "{ postsList { items { author { name } } } }")
    message, code = only_error(await ask(api, "{ postsList { items { author { posts_via_author { title } } } } }"))
    assert code == "graphql_max_depth" and message == "The operation is nested 5 levels deep; the limit is 4."


async def test_depth_counts_through_fragments(api: TestApp) -> None:
    query = "query Deep { postsList { ...Items } } fragment Items on PostsRecordPage { items { author { posts_via_author { id } } } }"
    assert only_error(await ask(api, query)) == ("Operation 'Deep' is nested 5 levels deep; the limit is 4.", "graphql_max_depth")


async def test_aliases(api: TestApp) -> None:
    assert "errors" not in await ask(api, "{ a: postsList { totalItems } b: postsList { totalItems } }")
    message, code = only_error(await ask(api, "{ a: postsList { totalItems } b: postsList { totalItems } c: postsList { totalItems } }"))
    assert code == "graphql_max_aliases" and message == "The operation uses 3 aliases; the limit is 2."


async def test_fields_are_counted_with_fragments_expanded(api: TestApp) -> None:
    # each fragment's 3 fields are written once and spread twice: postsList, items, author + 4 x 3 = 15
    query = """{ postsList { items { ...F ...F author { ...U ...U } } } }
        fragment F on PostsRecord { id title collectionName }
        fragment U on UsersRecord { id name collectionName }"""
    message, code = only_error(await ask(api, query))
    assert code == "graphql_max_fields" and message == "The operation selects 15 fields; the limit is 12."


async def test_a_fragment_bomb_is_measured_without_being_expanded(api: TestApp) -> None:
    levels = 30  # 2**30 fields once expanded
    fragments = " ".join(f"fragment F{i} on PostsRecord {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    query = f"{{ postsList {{ items {{ ...F0 }} }} }} {fragments} fragment F{levels} on PostsRecord {{ id }}"
    message, code = only_error(await ask(api, query))
    assert code == "graphql_max_fields" and message == f"The operation selects {2 + 2**levels} fields; the limit is 12."


async def test_too_many_tokens_stop_the_parser(api: TestApp) -> None:
    query = "{ postsList { totalItems " + "totalItems " * 20_000 + "} }"
    message, code = only_error(await ask(api, query))
    assert code == "graphql_parse" and "more than 20000 tokens" in message


async def test_introspection_is_for_superusers_when_switched_off(api: TestApp) -> None:
    message, code = only_error(await ask(api, "{ __schema { queryType { name } } }"))
    assert code == "graphql_validation" and "introspection has been disabled" in message
    user = await api.create_record("users", {"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})
    token = await api.login("users", user["email"], "password123")
    assert only_error(await ask(api, "{ __type(name: \"PostsRecord\") { name } }", token))[1] == "graphql_validation"
    # the same text is prepared apart for callers who may introspect (documents are cached)
    assert await ask(api, "{ __schema { queryType { name } } }", api.su_token) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert only_error(await ask(api, "{ __schema { queryType { name } } }"))[1] == "graphql_validation"
    # the full introspection query is deeper than the depth limit: introspection is not measured
    answer = await ask(api, get_introspection_query(), api.su_token)
    assert "errors" not in answer and answer["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_is_on_by_default(tmp_path: Path) -> None:
    async with make_test_app(tmp_path) as app:
        answer = await ask(app, get_introspection_query())
        assert "errors" not in answer and any(t["name"] == "UsersRecord" for t in answer["data"]["__schema"]["types"])


async def test_records_returned_over_all_fields_are_capped(tmp_path: Path) -> None:
    async with make_test_app(tmp_path, graphql_max_records=5) as app:
        await app.create_collection({"name": "notes", "listRule": "", "fields": [{"name": "t", "type": "text"}]})
        for i in range(3):
            await app.create_record("notes", {"t": f"n{i}"})
        one = await ask(app, "{ notesList { items { t } } }")
        assert len(one["data"]["notesList"]["items"]) == 3
        two = await ask(app, "{ a: notesList { items { t } } b: notesList { items { t } } }")
        messages = [e["message"] for e in two["errors"]]
        assert messages == ["The request would return more than 5 records; ask for fewer or smaller pages."]
        assert two["errors"][0]["extensions"]["status"] == 400
