"""The record field resolver and filter compiler against real SQLite, PostgreSQL and MySQL tables.

Every scenario runs on every database and must return the same rows.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from roost.core.collections.sync import ROWID_COLUMN
from roost.core.events import RequestInfo
from roost.core.rules.resolver import RecordFieldResolver
from roost.core.schema.collection import AUTH, Collection
from roost.core.schema.fields import FIELD_TYPES, Field
from roost.tools.filter import (
    Binder,
    FilterError,
    compile_filter,
    compile_sort,
    parse_filter,
    parse_sort,
)

PG_URL = os.environ.get("ROOST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2025, 6, 15, 12, 0, 0, tzinfo=UTC)


def f(type_name: str, name: str, **options: Any) -> Field:
    return FIELD_TYPES[type_name](name, **options)


def build_collections() -> dict[str, Collection]:
    orgs = Collection(
        id="c_orgs",
        name="orgs",
        fields=[f("text", "id"), f("text", "name")],
        rules={"listRule": ""},
    )
    users = Collection(
        id="c_users",
        name="users",
        type=AUTH,
        fields=[
            f("text", "id"), f("text", "name"), f("email", "email"), f("bool", "emailVisibility"),
            f("bool", "verified"), f("text", "secret", hidden=True), f("relation", "org", collectionId="c_orgs"),
        ],
        rules={"listRule": ""},
    )  # fmt: skip
    posts = Collection(
        id="c_posts",
        name="posts",
        fields=[
            f("text", "id"), f("text", "title"), f("text", "code"), f("number", "n"), f("bool", "flag"),
            f("select", "tags", values=["a", "b", "c"], maxSelect=5),
            f("select", "status", values=["draft", "live"]),
            f("relation", "author", collectionId="c_users"),
            f("relation", "editors", collectionId="c_users", maxSelect=5),
            f("json", "meta"), f("geoPoint", "loc"), f("date", "created"),
        ],
        rules={"listRule": ""},
    )  # fmt: skip
    comments = Collection(
        id="c_comments",
        name="comments",
        fields=[
            f("text", "id"), f("relation", "post", collectionId="c_posts"), f("text", "message"),
            f("relation", "user", collectionId="c_users"),
        ],
        rules={"listRule": ""},
    )  # fmt: skip
    members = Collection(
        id="c_members",
        name="members",
        fields=[f("text", "id"), f("relation", "user", collectionId="c_users"), f("text", "grp")],
        rules={"listRule": None},
    )
    private = Collection(
        id="c_private",
        name="private",
        fields=[f("text", "id"), f("relation", "post", collectionId="c_posts"), f("text", "note")],
        rules={"listRule": None},
    )
    return {c.name: c for c in (orgs, users, posts, comments, members, private)}


ROWS: dict[str, list[dict[str, Any]]] = {
    "orgs": [{"id": "o1", "name": "Acme"}, {"id": "o2", "name": "Beta"}],
    "users": [
        {"id": "u1", "name": "Ann", "email": "ann@x.com", "emailVisibility": True, "verified": True,
         "secret": "s1", "org": "o1"},
        {"id": "u2", "name": "bob", "email": "bob@x.com", "emailVisibility": False, "verified": False,
         "secret": "s2", "org": "o2"},
    ],
    "posts": [
        {"id": "p1", "title": "Hello World", "code": "3", "n": 5, "flag": True, "tags": ["a", "b"],
         "status": "draft", "author": "u1", "editors": ["u1", "u2"], "meta": {"a": {"b": [1, 2]}, "x": "y"},
         "loc": {"lon": 23.32, "lat": 42.69}, "created": "2024-01-10 10:00:00.000Z"},
        {"id": "p2", "title": "second post", "code": "20", "n": 10, "flag": False, "tags": ["b"],
         "status": "live", "author": "u2", "editors": ["u2"], "meta": {"a": {"b": [3]}},
         "loc": {"lon": 0, "lat": 0}, "created": "2030-01-01 00:00:00.000Z"},
        {"id": "p3", "title": "", "code": "", "n": 0, "flag": False, "tags": [], "status": "", "author": "",
         "editors": [], "meta": None, "loc": {"lon": 0, "lat": 0}, "created": ""},
        {"id": "p4", "title": "50% off_", "code": "x", "n": -2.5, "flag": True, "tags": ["c", "a"],
         "status": "live", "author": "u9", "editors": ["u1", "u9"], "meta": {"x": 5},
         "loc": {"lon": 0, "lat": 0}, "created": "2024-06-01 08:00:00.000Z"},
    ],
    "comments": [
        {"id": "c1", "post": "p1", "message": "nice", "user": "u1"},
        {"id": "c2", "post": "p1", "message": "bad", "user": "u2"},
        {"id": "c3", "post": "p2", "message": "nice", "user": "u2"},
    ],
    "members": [{"id": "m1", "user": "u1", "grp": "g1"}, {"id": "m2", "user": "u2", "grp": "g2"}],
    "private": [{"id": "x1", "post": "p1", "note": "secret"}],
}  # fmt: skip
ALL = {"p1", "p2", "p3", "p4"}


@dataclass
class Db:
    engine: AsyncEngine
    dialect: str
    collections: dict[str, Collection] = field(default_factory=build_collections)

    def lookup(self, key: str) -> Collection | None:
        return self.collections.get(key) or next(
            (c for c in self.collections.values() if c.id == key), None
        )

    def resolver(
        self, *, info: RequestInfo | None = None, allow_hidden: bool = True
    ) -> RecordFieldResolver:
        return RecordFieldResolver(
            self.lookup,
            self.collections["posts"],
            alias="t",
            info=info,
            allow_hidden=allow_hidden,
            dialect=self.dialect,
        )

    async def ids(self, expression: str, **kwargs: Any) -> set[str]:
        compiled = compile_filter(
            parse_filter(expression), self.resolver(**kwargs), self.dialect, now=NOW
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(f'SELECT t."id" FROM "posts" AS t WHERE {compiled.sql}'), compiled.params
            )
            return {r[0] for r in rows}

    async def order(self, sort: str) -> list[str]:
        binder = Binder(self.dialect)
        order = compile_sort(parse_sort(sort), self.resolver(), binder).sql
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(f'SELECT t."id" FROM "posts" AS t ORDER BY {order}'), binder.params
            )
            return [r[0] for r in rows]


_ID_TYPE = {"mysql": "VARCHAR(255) PRIMARY KEY"}


async def _create(engine: AsyncEngine, dialect: str, collections: dict[str, Collection]) -> None:
    async with engine.begin() as conn:
        for coll in collections.values():
            columns = ", ".join(
                f'"{fld.name}" {_ID_TYPE.get(dialect, "TEXT PRIMARY KEY") if fld.name == "id" else fld.column_type(dialect)}'
                for fld in coll.fields
            )
            if dialect == "mysql":  # @rowid (PostgreSQL has ctid)
                columns += ", " + ROWID_COLUMN[dialect]
            await conn.exec_driver_sql(f'CREATE TABLE "{coll.table}" ({columns})')
            for row in ROWS[coll.name]:
                names, values, params = [], [], {}
                for index, (key, value) in enumerate(row.items()):
                    fld = coll.get_field(key)
                    assert fld is not None
                    is_json = fld.type in ("json", "geoPoint") or fld.is_multiple()
                    placeholder = f":v{index}"
                    if is_json:
                        value = None if value is None else json.dumps(value)
                        placeholder = (
                            f"CAST(:v{index} AS JSONB)" if dialect == "postgresql" else placeholder
                        )
                    names.append(f'"{key}"')
                    values.append(placeholder)
                    params[f"v{index}"] = float(value) if fld.type == "number" else value
                await conn.execute(
                    text(
                        f'INSERT INTO "{coll.table}" ({", ".join(names)}) VALUES ({", ".join(values)})'
                    ),
                    params,
                )


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def db(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Db]:
    dialect = str(request.param)
    schema = ""
    if dialect == "postgresql":
        import asyncpg

        try:
            conn = await asyncpg.connect(PG_URL, timeout=3)
        except Exception as exc:
            if os.environ.get("ROOST_TEST_SERVICES") == "required":
                pytest.fail(
                    f"PostgreSQL required but unreachable: {type(exc).__name__}", pytrace=False
                )
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
        schema = "resolver_" + secrets.token_hex(6)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        url = PG_URL.replace("postgresql://", "postgresql+asyncpg://")
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    elif dialect == "mysql":
        from roost.core.db.mysql import engine_options
        from roost.testing.mysql import create_database, mysql_available
        from tests.conftest import MYSQL_URL, skip_or_fail

        reason = await mysql_available(MYSQL_URL)
        if reason:
            skip_or_fail(reason)
        schema = await create_database(MYSQL_URL, "resolver_")
        url = MYSQL_URL.replace("mysql://", "mysql+asyncmy://").rsplit("/", 1)[0] + "/" + schema
        engine = create_async_engine(url, **engine_options())
    else:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/data.db")
    database = Db(engine, dialect)
    await _create(engine, dialect, database.collections)
    try:
        yield database
    finally:
        await engine.dispose()
        if schema and dialect == "mysql":
            from roost.testing.mysql import drop_database
            from tests.conftest import MYSQL_URL

            await drop_database(MYSQL_URL, schema)
        elif schema:
            import asyncpg

            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()


U1 = RequestInfo(
    auth={
        "id": "u1",
        "name": "Ann",
        "email": "ann@x.com",
        "emailVisibility": True,
        "verified": True,
    },
    method="POST",
    query={"page": "2"},
    headers={"x_token": "abc"},
    body={"title": "second post", "author": "u1", "editors": ["u1", "u2"], "extra": {"k": "v"}},
)

CASES: list[tuple[str, set[str]]] = [
    # equality and the NULL/'' equivalence
    ("title = 'Hello World'", {"p1"}),
    ("title = ''", {"p3"}),
    ("title = null", {"p3"}),
    ("title != ''", {"p1", "p2", "p4"}),
    ("'' = title", {"p3"}),
    ("title = status", {"p3"}),
    ("title != status", {"p1", "p2", "p4"}),
    ("title = 5", set()),
    # PocketBase binds numbers as floats: a text column compares with '3.0'
    ("code = 3", set()),
    # numbers
    ("n > 5", {"p2"}),
    ("n >= 5", {"p1", "p2"}),
    ("n < 0", {"p4"}),
    ("n <= 0", {"p3", "p4"}),
    ("n > '5'", {"p2"}),
    ("n = ''", set()),
    ("n != ''", ALL),
    ("n = 10.0", {"p2"}),
    ("n = -2.5", {"p4"}),
    ("n > code", {"p1"}),
    # booleans
    ("flag = true", {"p1", "p4"}),
    ("flag = false", {"p2", "p3"}),
    ("flag != true", {"p2", "p3"}),
    ("flag = 1 && n > 0", {"p1"}),
    # like
    ("title ~ 'hello'", {"p1"}),
    ("title ~ 'off_'", {"p4"}),
    ("title ~ '50%'", {"p4"}),
    ("title ~ '%ll%'", {"p1"}),
    ("title !~ 'o'", {"p3"}),
    ("status ~ 'liv'", {"p2", "p4"}),
    ("'second post and more' ~ title", {"p2", "p3"}),
    ("n ~ '2.5'", {"p4"}),
    # grouping and precedence
    ("title = 'x' || n > 5 && flag = false", {"p2"}),
    ("(title = 'Hello World' || n > 5) && flag = false", {"p2"}),
    ("n > 100 // a comment\n || n = 0", {"p3"}),
    # multi-valued select
    ("tags ~ 'a'", {"p1", "p4"}),
    ("tags:each = 'a'", set()),
    ("tags:each ?= 'a'", {"p1", "p4"}),
    # an empty set reads as one NULL value, and NULL IS NOT 'a'
    ("tags:each != 'a'", {"p2", "p3"}),
    ("tags:each ?!= 'a'", {"p1", "p2", "p3", "p4"}),
    ("tags:each ~ 'b'", {"p2"}),
    ("tags:length > 1", {"p1", "p4"}),
    ("tags:length = 0", {"p3"}),
    ("status:each = 'live'", {"p2", "p4"}),
    ("status:length = 1", {"p1", "p2", "p4"}),
    ("title:lower = 'hello world'", {"p1"}),
    ("title:lower ~ 'HELLO'", {"p1"}),
    # relations
    ("author.name = 'Ann'", {"p1"}),
    ("author.org.name = 'Acme'", {"p1"}),
    ("author.id = 'u1'", {"p1"}),
    ("author = 'u1'", {"p1"}),
    ("author.name = ''", {"p3", "p4"}),
    ("author.name:lower = 'bob'", {"p2"}),
    ("editors.name = 'Ann'", {"p4"}),
    ("editors.name ?= 'bob'", {"p1", "p2"}),
    ("editors.name != 'x'", {"p1", "p2", "p3", "p4"}),
    ("editors.org.name ?= 'Beta'", {"p1", "p2"}),
    ("editors:length = 2", {"p1", "p4"}),
    ("editors.id ?= 'u2'", {"p1", "p2"}),
    # empty sets and dangling ids behave as NULL, and NULL = NULL under the COALESCE rule
    ("editors.name ?= author.name", ALL),
    ("editors.name ?= editors.name", ALL),
    ("editors.name ?= author.name && author != ''", {"p1", "p2", "p4"}),
    # back-relations
    ("comments_via_post.message ?= 'bad'", {"p1"}),
    ("comments_via_post.message = 'nice'", {"p2"}),
    ("comments_via_post.user.name ?= 'bob'", {"p1", "p2"}),
    ("comments_via_post.id ?!= ''", {"p1", "p2"}),
    # json and geoPoint
    ("meta.a.b.0 = 1", {"p1"}),
    ("meta.a.b.1 = 2", {"p1"}),
    ("meta.x = 'y'", {"p1"}),
    ("meta.x = 5", {"p4"}),
    ("meta.x >= 5 && meta.x <= 5", {"p4"}),
    ("meta = null", {"p3"}),
    ("meta != null", {"p1", "p2", "p4"}),
    ("meta.nope = null", ALL),
    ("loc.lon > 20", {"p1"}),
    ("geoDistance(loc.lon, loc.lat, 23.3, 42.7) < 10", {"p1"}),
    ("geoDistance(loc.lon, loc.lat, 0, 0) < 1", {"p2", "p3", "p4"}),
    # dates, macros, strftime
    ("created > @now", {"p2"}),
    ("created < @todayStart && created != ''", {"p1", "p4"}),
    ("created >= @yearStart && created <= @yearEnd", set()),
    ("@year = 2025 && @month = 6 && @day = 15 && @weekday = 0 && n = 0", {"p3"}),
    ("strftime('%Y', created) = '2024'", {"p1", "p4"}),
    ("strftime('%Y-%m', created) = '2024-06'", {"p4"}),
    ("strftime('%Y', created) = ''", {"p3"}),
    # literals on both sides
    ("1 = 1", ALL),
    ("'a' != 'a'", set()),
    ("null = ''", ALL),
]

REQUEST_CASES: list[tuple[str, set[str]]] = [
    ("@request.auth.id = 'u1' && author = @request.auth.id", {"p1"}),
    ("@request.auth.id != ''", ALL),
    ("@request.auth.collectionName = 'users'", ALL),
    ("@request.auth.verified = true", ALL),
    ("@request.auth.name = 'Ann'", ALL),
    ("@request.auth.org.name = 'Acme'", ALL),
    ("@request.auth.secret = 's1'", ALL),
    ("@request.auth.nope = null", ALL),
    ("@request.body.title = title", {"p2"}),
    ("@request.body.title:isset = true", ALL),
    ("@request.body.nope:isset = true", set()),
    ("@request.body.title:changed = true", {"p1", "p3", "p4"}),
    ("@request.body.n:changed = false", ALL),
    ("@request.body.author.name = 'Ann'", ALL),
    ("@request.body.editors.name ?= 'bob'", ALL),
    ("@request.body.editors.name = 'bob'", set()),
    ("@request.body.editors:length = 2", ALL),
    ("@request.body.editors:each ?= 'u2'", ALL),
    ("@request.body.editors:each = 'u2'", set()),
    ("@request.body.extra.k = 'v'", ALL),
    ("@request.body.title:lower = 'second post'", ALL),
    ("@request.body.title:lower = title:lower", {"p2"}),
    ("@request.query.page = '2'", ALL),
    ("@request.query.page:isset = true && @request.query.nope:isset = false", ALL),
    ("@request.headers.x_token = 'abc'", ALL),
    ("@request.method = 'POST'", ALL),
    ("@request.context = 'default'", ALL),
    ("@request.query.nope.x = null", ALL),
    ("@collection.members.user ?= author && @collection.members.grp ?= 'g1'", {"p1"}),
    ("@collection.members:m.user ?= author", {"p1", "p2"}),
    ("@collection.members.user.name ?= 'bob' && author = 'u2'", {"p2"}),
    ("@collection.members.user = 'u1'", set()),
    ("@collection.members.grp != 'g3'", ALL),
]


def _label(case: tuple[str, set[str]]) -> str:
    return case[0]


async def _check(db: Db, cases: list[tuple[str, set[str]]], **kwargs: Any) -> None:
    failures = []
    for expression, expected in cases:
        try:
            got = await db.ids(expression, **kwargs)
        except Exception as exc:
            failures.append(f"{expression!r}: {type(exc).__name__}: {exc}")
            continue
        if got != expected:
            failures.append(f"{expression!r}: got {sorted(got)}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


async def test_operators_modifiers_relations_and_macros(db: Db) -> None:
    await _check(db, CASES)


async def test_request_and_collection_identifiers(db: Db) -> None:
    await _check(db, REQUEST_CASES, info=replace(U1, auth_collection=db.collections["users"]))


async def test_without_auth_request_auth_is_null(db: Db) -> None:
    await _check(
        db,
        [
            ("@request.auth.id != ''", set()),
            ("@request.auth.id = ''", ALL),
            ("@request.auth.org.name = null", ALL),
        ],
        info=RequestInfo(),
    )


async def test_non_superuser_restrictions(db: Db) -> None:
    await _check(
        db,
        [
            ("author.email = 'ann@x.com'", {"p1"}),
            ("author.email = 'bob@x.com'", set()),
            ("author.name = 'bob'", {"p2"}),
        ],
        allow_hidden=False,
    )
    await _check(
        db, [("author.email = 'bob@x.com'", {"p2"}), ("private_via_post.note ?= 'secret'", {"p1"})]
    )
    for expression in (
        "author.secret = 's1'",
        "private_via_post.note ?= 'x'",
        "nope = 1",
        "author.nope = 1",
        # PocketBase accepts only known @request sections
        "@request.unknown.x = null",
        "@request.auth = null",
        "#x = 1",
    ):
        with pytest.raises(FilterError):
            await db.ids(expression, allow_hidden=False)


async def test_list_rule_of_related_collection_filters_rows(db: Db) -> None:
    db.collections["comments"].rules["listRule"] = "message = 'nice'"
    await _check(
        db,
        [
            ("comments_via_post.message ?= 'bad'", set()),
            ("comments_via_post.message = 'nice'", {"p1", "p2"}),
        ],
        allow_hidden=False,
    )
    await _check(db, [("comments_via_post.message ?= 'bad'", {"p1"})], allow_hidden=True)


async def test_sort(db: Db) -> None:
    assert await db.order("-n") == ["p2", "p1", "p3", "p4"]
    assert await db.order("flag,-n") == ["p2", "p3", "p1", "p4"]
    assert (await db.order("author.name,n"))[2:] == ["p1", "p2"]
    assert len(await db.order("@random")) == 4
    assert len(await db.order("@rowid")) == 4
    with pytest.raises(FilterError):
        await db.order("nope")
    with pytest.raises(FilterError):
        await db.order("@request.method")
