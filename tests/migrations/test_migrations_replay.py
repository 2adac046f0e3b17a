"""Acceptance: a schema built on SQLite through the HTTP API with ``--automigrate``, replayed with
``roost migrate up`` on a fresh PostgreSQL database, serves the same collections."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from roost.testing import TestApp, make_test_app
from roost.testing.databases import PG_URL, pg_available
from tests.conftest import skip_or_fail

ROOST = str(Path(sys.executable).parent / "roost")
SERVER = PG_URL.rsplit("/", 1)[0]

AUTHORS = {
    "name": "authors", "type": "auth",
    "listRule": "@request.auth.id != ''", "viewRule": "id = @request.auth.id", "createRule": "",
    "fields": [{"name": "nickname", "type": "text", "max": 40, "required": True},
               {"name": "avatar", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]}],
    "passwordAuth": {"enabled": True, "identityFields": ["email", "nickname"]},
    "indexes": ["CREATE UNIQUE INDEX idx_authors_nickname ON authors (nickname)"],
}  # fmt: skip
TAGS = {"name": "tags", "listRule": "", "viewRule": "", "fields": [{"name": "label", "type": "text", "required": True}]}


def posts(authors_id: str, tags_id: str) -> dict[str, Any]:
    return {
        "name": "posts",
        "listRule": "published = true || author = @request.auth.id",
        "viewRule": "published = true || author = @request.auth.id",
        "createRule": "@request.auth.collectionName = 'authors' && @request.body.author = @request.auth.id",
        "updateRule": "author = @request.auth.id", "deleteRule": None,
        "fields": [
            {"name": "title", "type": "text", "required": True, "min": 3, "max": 120},
            {"name": "body", "type": "editor"},
            {"name": "views", "type": "number", "onlyInt": True, "min": 0},
            {"name": "published", "type": "bool"},
            {"name": "published_at", "type": "date"},
            {"name": "contact", "type": "email", "onlyDomains": ["example.com"]},
            {"name": "link", "type": "url"},
            {"name": "status", "type": "select", "values": ["draft", "live", "archived"], "maxSelect": 1},
            {"name": "meta", "type": "json", "maxSize": 2000},
            {"name": "place", "type": "geoPoint"},
            {"name": "author", "type": "relation", "collectionId": authors_id, "maxSelect": 1, "cascadeDelete": True},
            {"name": "tags", "type": "relation", "collectionId": tags_id, "maxSelect": 5},
            {"name": "created", "type": "autodate", "onCreate": True},
        ],
        "indexes": ["CREATE INDEX idx_posts_status ON posts (status, published_at DESC)",
                    "CREATE UNIQUE INDEX idx_posts_title ON posts (title)"],
    }  # fmt: skip


async def build_schema(api: TestApp) -> None:
    """Creates, updates and a delete, as a developer would click them together."""
    async def ok(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        res = await api.su(method, url, json=body)
        assert res.status_code in (200, 204), f"{method} {url}: {res.text}"
        return res.json() if res.status_code == 200 else {}

    authors = await ok("POST", "/api/collections", AUTHORS)
    tags = await ok("POST", "/api/collections", TAGS)
    await ok("POST", "/api/collections", {"name": "scratch", "fields": [{"name": "x", "type": "text"}]})
    created = await ok("POST", "/api/collections", posts(authors["id"], tags["id"]))
    fields = [f for f in created["fields"] if f["name"] != "link"]  # remove a field, add one
    fields.append({"name": "summary", "type": "text", "max": 300})
    await ok("PATCH", "/api/collections/posts", {"fields": fields, "deleteRule": "author = @request.auth.id"})
    await ok("PATCH", "/api/collections/tags", {"name": "labels"})  # a rename
    await ok("PATCH", "/api/collections/users", {"otp": {"enabled": True}, "listRule": None})
    await ok("DELETE", "/api/collections/scratch")
    await ok("POST", "/api/collections", {"name": "post_stats", "type": "view", "listRule": "",
                                          "viewQuery": "SELECT id, views FROM posts"})


def normalised(collections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in c.items() if k not in ("created", "updated")} for c in collections), key=lambda c: c["name"])


async def all_collections(api: TestApp) -> list[dict[str, Any]]:
    res = await api.su("GET", "/api/collections", params={"perPage": 500})
    assert res.status_code == 200, res.text
    return normalised(res.json()["items"])


@pytest.fixture
async def fresh_pg_database() -> Any:
    """Makes fresh PostgreSQL databases (dropped after the test) and hands back their URLs."""
    reason = await pg_available()
    if reason:
        skip_or_fail(reason)
    names: list[str] = []

    async def make() -> str:
        names.append("roost_replay_" + secrets.token_hex(5))
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{names[-1]}"')
        finally:
            await conn.close()
        return f"{SERVER}/{names[-1]}"

    yield make
    conn = await asyncpg.connect(PG_URL)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def roost(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(ROOST, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.postgres
async def test_schema_built_on_sqlite_replays_on_postgres(tmp_path: Path, fresh_pg_database: Any) -> None:
    migrations = tmp_path / "migrations"
    async with make_test_app(tmp_path / "sqlite", automigrate=True, migrations_dir=migrations) as api:
        await build_schema(api)
        on_sqlite = await all_collections(api)
    written = sorted(p.name.split("_", 1)[1] for p in migrations.glob("*.py"))
    assert written == ["created_authors.py", "created_post_stats.py", "created_posts.py", "created_scratch.py",
                       "created_tags.py", "deleted_scratch.py", "updated_posts.py", "updated_tags.py", "updated_users.py"]

    database = await fresh_pg_database()
    out = await roost("migrate", "up", "--db-url", database, "--dir", str(tmp_path / "pg"), "--migrationsDir", str(migrations))
    assert out.count("Applied ") == len(written), out

    async with make_test_app(tmp_path / "pg", db_url=database, migrations_dir=migrations) as api:
        assert api.app.dialect == "postgresql"
        on_postgres = await all_collections(api)
        # the replayed schema works: an author signs up and posts through the rules
        author = await api.call("POST", "/api/collections/authors/records", json={
            "email": "a@example.com", "nickname": "ann", "password": "password123", "passwordConfirm": "password123"})
        assert author.status_code == 200, author.text
        token = await api.login("authors", "ann", "password123")
        post = await api.call("POST", "/api/collections/posts/records", token=token, json={
            "title": "Hello", "author": author.json()["id"], "status": "live", "published": True})
        assert post.status_code == 200, post.text
        stats = await api.call("GET", "/api/collections/post_stats/records")
        assert stats.status_code == 200 and stats.json()["totalItems"] == 1
    assert [c["name"] for c in on_postgres] == [c["name"] for c in on_sqlite]
    for mine, theirs in zip(on_sqlite, on_postgres, strict=True):
        assert theirs == mine, mine["name"]


@pytest.mark.postgres
async def test_a_collections_snapshot_replays_on_postgres(tmp_path: Path, fresh_pg_database: Any) -> None:
    async with make_test_app(tmp_path / "sqlite", migrations_dir=tmp_path / "unused") as api:
        await build_schema(api)
        on_sqlite = await all_collections(api)
    snapshots = tmp_path / "snapshots"
    await roost("migrate", "collections", "--dir", str(tmp_path / "sqlite"), "--migrationsDir", str(snapshots))
    database = await fresh_pg_database()
    out = await roost("migrate", "up", "--db-url", database, "--dir", str(tmp_path / "pg"), "--migrationsDir", str(snapshots))
    assert out.count("Applied ") == 1, out
    async with make_test_app(tmp_path / "pg", db_url=database, migrations_dir=snapshots) as api:
        on_postgres = await all_collections(api)
    assert [c["name"] for c in on_postgres] == [c["name"] for c in on_sqlite]
    for mine, theirs in zip(on_sqlite, on_postgres, strict=True):
        assert theirs == mine, mine["name"]
