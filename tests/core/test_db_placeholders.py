"""The ``:name`` -> ``$n`` rewrite of the PostgreSQL driver."""

from __future__ import annotations

import os

from roost.config import Config
from roost.core.db.facade import Database
from roost.core.db.placeholders import numbered as _numbered
from tests.conftest import PG_URL, _pg_available, skip_or_fail


def test_names_become_numbers_and_repeat_their_number() -> None:
    sql, names = _numbered('SELECT * FROM "t" WHERE "a" = :a AND ("b" = :b OR "c" = :a)')
    assert sql == 'SELECT * FROM "t" WHERE "a" = $1 AND ("b" = $2 OR "c" = $1)'
    assert names == ("a", "b")


def test_casts_and_colons_that_are_not_placeholders_stay() -> None:
    # as with SQLAlchemy's text(), ``:v::jsonb`` is not a placeholder: write CAST(:v AS jsonb)
    sql, names = _numbered("SELECT CAST(:v AS jsonb), :w::jsonb, 'x'::text, \"t\".\"a:b\" FROM \"t\" WHERE \"id\" = :_rid")
    assert sql == "SELECT CAST($1 AS jsonb), :w::jsonb, 'x'::text, \"t\".\"a:b\" FROM \"t\" WHERE \"id\" = $2"
    assert names == ("v", "_rid")


async def test_postgres_ddl_runs_as_written_and_statements_take_named_values() -> None:
    reason = await _pg_available()
    if reason:
        skip_or_fail(reason)
    db = Database(Config(db_url=PG_URL).database_url, pool_size=1)
    table = f"ddl_colons_{os.getpid()}"
    try:
        async with db.transaction() as conn:
            # a JSON default holds ':' that is no placeholder
            await conn.execute_ddl(f'CREATE TABLE "{table}" ("id" TEXT PRIMARY KEY, "data" JSONB DEFAULT \'{{"a":1}}\')')
            assert await conn.execute(f'INSERT INTO "{table}" ("id") VALUES (:id)', {"id": "x"}) == 1
        assert await db.fetch_one(f'SELECT "data" FROM "{table}" WHERE "id" = :id', {"id": "x"}) == {"data": {"a": 1}}
    finally:
        async with db.transaction() as conn:
            await conn.execute_ddl(f'DROP TABLE IF EXISTS "{table}"')
        await db.close()
