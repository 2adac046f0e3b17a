"""List queries with a common filter on an indexed field use that index, on every database.

The page query a list request runs is captured and handed to the database's EXPLAIN.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

POSTS = {
    "name": "posts",
    "type": "base",
    "listRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "status", "type": "text"},
        {"name": "slug", "type": "text"},
    ],
    "indexes": [
        "CREATE INDEX `idx_posts_status` ON `posts` (`status`)",
        "CREATE UNIQUE INDEX `idx_posts_slug` ON `posts` (`slug`)",
    ],
}
ROWS = 3000


async def _seed(api: Api) -> None:
    assert (await api.su("POST", "/api/collections", json=POSTS)).status_code == 200
    rows = [
        {"id": f"p{n:014d}", "title": f"post {n}", "status": "rare" if n % 1000 == 0 else "common",
         "slug": f"post-{n}"}
        for n in range(ROWS)
    ]  # fmt: skip
    async with api.app.db.transaction() as conn:
        await conn.execute(
            'INSERT INTO "posts" ("id", "title", "status", "slug") VALUES (:id, :title, :status, :slug)',
            rows,
        )
    analyze = {"sqlite": "ANALYZE", "postgresql": 'ANALYZE "posts"', "mysql": 'ANALYZE TABLE "posts"'}
    async with api.app.db.transaction() as conn:
        await conn.execute(analyze[api.app.dialect])


async def _page_query(api: Api, filter_text: str) -> tuple[str, dict[str, Any]]:
    db = api.app.db
    seen: list[tuple[str, dict[str, Any]]] = []
    fetch_all = db.fetch_all

    async def recording(sql: str, params: Any = None) -> Any:
        seen.append((sql, dict(params or {})))
        return await fetch_all(sql, params)

    db.fetch_all = recording
    try:
        res = await api.su("GET", "/api/collections/posts/records", params={"filter": filter_text})
    finally:
        db.fetch_all = fetch_all
    assert res.status_code == 200, res.text
    assert res.json()["items"], "the filter should match"
    return next((sql, params) for sql, params in seen if " LIMIT " in sql)


async def _plan(api: Api, sql: str, params: dict[str, Any]) -> str:
    prefix = "EXPLAIN QUERY PLAN " if api.app.dialect == "sqlite" else "EXPLAIN "
    rows = await api.app.db.fetch_all(prefix + sql, params)
    if api.app.dialect == "mysql":  # the index actually chosen, not the candidates
        return "\n".join(f"{row['table']}: {row['type']} {row['key']}" for row in rows)
    return "\n".join(" | ".join(str(v) for v in row.values()) for row in rows)


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [("status = 'rare'", "idx_posts_status"), ("slug = 'post-17'", "idx_posts_slug")],
)
async def test_list_filter_on_an_indexed_field_uses_the_index(api: Api, filter_text: str, index: str) -> None:
    await _seed(api)
    sql, params = await _page_query(api, filter_text)
    plan = await _plan(api, sql, params)
    assert index in plan, plan
