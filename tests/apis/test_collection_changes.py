"""A collection change that the database rejects leaves the table and its records as they were.

On MySQL, DDL is not transactional; Roost undoes the steps it already applied
(roost/core/collections/mysql_sync.py). Every backend must behave the same.
"""

from __future__ import annotations

from tests.conftest import Api

POSTS = {
    "name": "posts",
    "type": "base",
    "listRule": "",
    "createRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "views", "type": "number"}],
    "indexes": ["CREATE INDEX `idx_posts_views` ON `posts` (`views`)"],
}


async def _titles(api: Api) -> list[str]:
    res = await api.call("GET", "/api/collections/posts/records", params={"sort": "title"})
    assert res.status_code == 200, res.text
    return [item["title"] for item in res.json()["items"]]


async def test_failed_change_is_undone(api: Api) -> None:
    created = await api.su("POST", "/api/collections", json=POSTS)
    assert created.status_code == 200, created.text
    for title in ("same", "same", "other"):
        assert (await api.call("POST", "/api/collections/posts/records", json={"title": title, "views": 3})).status_code == 200
    change = {
        "name": "articles",
        "fields": [
            *[f for f in created.json()["fields"] if f["name"] != "views"],
            {"name": "summary", "type": "text"},
        ],
        "indexes": ["CREATE UNIQUE INDEX `idx_posts_title` ON `posts` (`title`)"],
    }
    res = await api.su("PATCH", "/api/collections/posts", json=change)
    assert res.status_code >= 400, res.text  # the status itself is the collections API's business
    assert (await api.su("GET", "/api/collections/posts")).json()["indexes"] == POSTS["indexes"]
    assert await _titles(api) == ["other", "same", "same"]
    res = await api.call("POST", "/api/collections/posts/records", json={"title": "again", "views": 5})
    assert res.status_code == 200, res.text
    assert res.json()["views"] == 5
    res = await api.call("GET", "/api/collections/posts/records", params={"filter": "views = 3"})
    assert res.json()["totalItems"] == 3


async def test_unique_index_over_long_and_empty_values(api: Api) -> None:
    data = {**POSTS, "indexes": ["CREATE UNIQUE INDEX `idx_posts_title` ON `posts` (`title`) WHERE `title` != ''"]}
    assert (await api.su("POST", "/api/collections", json=data)).status_code == 200
    long_a, long_b = "x" * 3000 + "a", "x" * 3000 + "b"  # equal far beyond any index prefix
    for title in (long_a, long_b, "", ""):
        res = await api.call("POST", "/api/collections/posts/records", json={"title": title})
        assert res.status_code == 200, res.text
    res = await api.call("POST", "/api/collections/posts/records", json={"title": long_a})
    assert res.status_code == 400
    assert res.json()["data"] == {"title": {"code": "validation_not_unique", "message": "Value must be unique."}}


async def test_indexes_on_date_columns_and_a_unique_index_over_duplicates(api: Api) -> None:
    indexes = ["CREATE INDEX idx_deep_created ON deep (created)"]
    res = await api.su("POST", "/api/collections", json={"name": "deep", "listRule": "", "indexes": indexes, "fields": [
        {"name": "title", "type": "text"}, {"name": "due", "type": "date"},
        {"name": "created", "type": "autodate", "onCreate": True}]})
    assert res.status_code == 200, res.text
    for _ in range(2):
        assert (await api.su("POST", "/api/collections/deep/records", json={"title": "same"})).status_code == 200
    indexes.append("CREATE INDEX idx_deep_due_created ON deep (due, created DESC)")
    assert (await api.su("PATCH", "/api/collections/deep", json={"indexes": indexes})).status_code == 200
    refused = await api.su("PATCH", "/api/collections/deep", json={"indexes": [*indexes, "CREATE UNIQUE INDEX idx_deep_title ON deep (title)"]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["data"]["indexes"]["message"] == "The existing records violate a unique index."
    listed = await api.call("GET", "/api/collections/deep/records", params={"sort": "-created"})
    assert listed.json()["totalItems"] == 2
