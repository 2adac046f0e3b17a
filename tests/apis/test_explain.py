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


async def _page_query(api: Api, filter_text: str, sort: str = "") -> tuple[str, dict[str, Any]]:
    db = api.app.db
    seen: list[tuple[str, dict[str, Any]]] = []
    fetch_all = db.fetch_all

    async def recording(sql: str, params: Any = None) -> Any:
        seen.append((sql, dict(params or {})))
        return await fetch_all(sql, params)

    db.fetch_all = recording
    try:
        query = {"filter": filter_text, **({"sort": sort} if sort else {})}
        res = await api.su("GET", "/api/collections/posts/records", params=query)
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


async def test_a_sort_on_an_indexed_not_null_column_walks_the_index(api: Api) -> None:
    await _seed(api)
    async with api.app.db.transaction() as conn:
        await conn.execute('UPDATE "posts" SET "status" = "id"')
    sql, params = await _page_query(api, "", sort="-status")
    if api.app.dialect == "mysql":
        # MySQL cannot order by a prefix index over a TEXT column; the order itself must hold
        rows = await api.app.db.fetch_all(sql, params)
        assert [r["id"] for r in rows[:2]] == [f"p{ROWS - 1:014d}", f"p{ROWS - 2:014d}"]
        return
    plan = await _plan(api, sql, params)
    assert "idx_posts_status" in plan, plan
    if api.app.dialect == "postgresql":
        # no NULLS LAST on a NOT NULL column, so no Sort node over the whole table
        assert "Sort" not in plan, plan


async def test_the_default_order_walks_an_index(api: Api) -> None:
    await _seed(api)
    sql, params = await _page_query(api, "")
    plan = await _plan(api, sql, params)
    if api.app.dialect == "postgresql":
        assert "Index Scan" in plan and "Sort" not in plan, plan
    elif api.app.dialect == "sqlite":
        assert "SCAN" in plan and "TEMP B-TREE" not in plan, plan
