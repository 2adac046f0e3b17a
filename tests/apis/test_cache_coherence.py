"""Randomised cache coherence: two cached instances sharing Redis (or an embedded hub) and one database,
against an uncached one.

Writes (creates, updates, deletes, rule-relevant and relation changes, a rule change) and reads
(lists with filters, sorts and expands, views; as a guest and as two users) are interleaved at
random across the two cached instances. Every read is repeated on an uncached instance over the
same data and must match it exactly. The run is seeded (``ROOST_CACHE_SEED``) and bounded in
time (``ROOST_CACHE_SECONDS``); a failure prints the seed and the step to replay it.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cache_services import REDIS_URL, redis_reachable
from tests.conftest import PG_URL, _pg_available, skip_or_fail

SEED = int(os.environ.get("ROOST_CACHE_SEED", "424242"))
SECONDS = float(os.environ.get("ROOST_CACHE_SECONDS", "10"))
MAX_STEPS = 600
POST_RULE = "author.hidden = false || owner = @request.auth.id"
OTHER_POST_RULE = 'n >= 3 || owner.name = "u2"'
FILTERS = ["", "n > 5", 'author.name ~ "a"', 'tags.label ?= "red"', "owner.verified = false"]
SORTS = ["", "-n,id", "title,id"]
EXPANDS = ["", "author", "author,tags", "owner"]


@dataclass
class World:
    clients: list[httpx.AsyncClient]  # [cached A, cached B, uncached]
    apps: list[Any]
    su: str = ""
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=lambda: {"authors": [], "posts": [], "tags": [], "users": []})

    async def call(self, n: int, method: str, url: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": token} if token else {}
        return await self.clients[n].request(method, url, headers=headers, **kw)


async def _db_config(backend: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    if backend == "sqlite":
        return {"data_dir": tmp_path}, ""
    if reason := await _pg_available():
        skip_or_fail(reason)
    import asyncpg

    schema = "t_" + secrets.token_hex(6)
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    return {"data_dir": tmp_path, "db_url": PG_URL, "db_schema": schema}, schema


@pytest.fixture(params=["sqlite", "postgres", "sqlite-hub"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """Two cached instances and an uncached one. ``sqlite-hub``: the two cached ones are joined by
    an embedded hub, as ``roost serve``'s workers are (``memory://`` bodies, shared counters)."""
    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.core.superusers import manage_superuser

    if request.param == "sqlite-hub":
        cached: dict[str, Any] = {"cache_url": "memory://", "hub_url": request.getfixturevalue("hub_url")}
    else:
        if reason := await redis_reachable():
            skip_or_fail(reason)
        cached = {"cache_url": REDIS_URL}
    base, schema = await _db_config(str(request.param).removesuffix("-hub"), tmp_path)
    apps = [App(Config(**base, **cached)), App(Config(**base, **cached)), App(Config(**base))]
    for app in apps:
        await app.bootstrap()
    if request.param == "sqlite-hub":
        from roost.tools.cache.hub import HubCache

        assert isinstance(apps[0].response_cache.backend, HubCache)
    await manage_superuser(apps[0], "upsert", "su@example.com", "password123")
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=build_asgi(a)), base_url="http://roost.test")
        for a in apps
    ]
    w = World(clients, apps)
    try:
        res = await w.call(0, "POST", "/api/collections/_superusers/auth-with-password",
                           json={"identity": "su@example.com", "password": "password123"})  # fmt: skip
        w.su = res.json()["token"]
        await _schema(w)
        yield w
    finally:
        for client in clients:
            await client.aclose()
        for app in apps:
            await app.close()
        if schema:
            import asyncpg

            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()


async def _ok(res: httpx.Response) -> dict[str, Any]:
    assert res.status_code in (200, 204), res.text
    return res.json() if res.status_code == 200 else {}


async def _reload(w: World) -> None:
    """Collection definitions reach other instances through the broker; here, at once."""
    for app in w.apps:
        await app.collections.load()


async def _schema(w: World) -> None:
    su = w.su
    await _ok(await w.call(0, "PATCH", "/api/collections/users", su, json={"listRule": "", "viewRule": ""}))
    pub = {"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""}
    tags = await _ok(await w.call(0, "POST", "/api/collections", su, json={
        "name": "tags", **pub, "fields": [{"name": "label", "type": "text"}]}))  # fmt: skip
    authors = await _ok(await w.call(0, "POST", "/api/collections", su, json={
        "name": "authors", **pub, "listRule": "hidden = false", "viewRule": "hidden = false",
        "fields": [{"name": "name", "type": "text"}, {"name": "hidden", "type": "bool"}]}))  # fmt: skip
    users = await _ok(await w.call(0, "GET", "/api/collections/users", su))
    await _ok(await w.call(0, "POST", "/api/collections", su, json={
        "name": "posts", **pub, "listRule": POST_RULE, "viewRule": POST_RULE, "fields": [
            {"name": "title", "type": "text"}, {"name": "n", "type": "number"},
            {"name": "author", "type": "relation", "collectionId": authors["id"], "maxSelect": 1},
            {"name": "owner", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
            {"name": "tags", "type": "relation", "collectionId": tags["id"], "maxSelect": 3},
        ]}))  # fmt: skip
    await _reload(w)
    for name in ("u1", "u2"):
        user = await _ok(await w.call(0, "POST", "/api/collections/users/records", su, json={
            "email": f"{name}@example.com", "password": "password123", "passwordConfirm": "password123",
            "name": name, "emailVisibility": name == "u1"}))  # fmt: skip
        w.ids["users"].append(user["id"])
        res = await w.call(0, "POST", "/api/collections/users/auth-with-password",
                           json={"identity": f"{name}@example.com", "password": "password123"})  # fmt: skip
        w.tokens[name] = (await _ok(res))["token"]
    w.tokens["guest"] = None


def _pick(rng: random.Random, items: list[str]) -> str:
    return rng.choice(items) if items else "missing00000000"


async def _write(w: World, rng: random.Random, n: int) -> str:
    ids, su = w.ids, w.su
    kind = rng.choice(["post+", "post+", "post~", "post~", "post-", "author+", "author~", "author-", "tag+", "tag-", "user~", "rule"])
    if kind == "post+" or (kind.startswith("post") and not ids["posts"]):
        tags = rng.sample(ids["tags"], k=min(len(ids["tags"]), rng.randint(0, 2)))
        body = {"title": rng.choice(["alpha", "beta", "gamma"]), "n": rng.randint(0, 9), "author": _pick(rng, ids["authors"])
                if ids["authors"] and rng.random() < 0.8 else "", "owner": rng.choice([*ids["users"], ""]), "tags": tags}  # fmt: skip
        ids["posts"].append((await _ok(await w.call(n, "POST", "/api/collections/posts/records", su, json=body)))["id"])
    elif kind == "post~":
        body = rng.choice([{"n": rng.randint(0, 9)}, {"title": "delta"}, {"author": rng.choice([*ids["authors"], ""])},
                           {"owner": rng.choice([*ids["users"], ""])}, {"tags": rng.sample(ids["tags"], k=min(1, len(ids["tags"])))}])  # fmt: skip
        await _ok(await w.call(n, "PATCH", f"/api/collections/posts/records/{_pick(rng, ids['posts'])}", su, json=body))
    elif kind == "post-":
        victim = ids["posts"].pop(rng.randrange(len(ids["posts"])))
        await _ok(await w.call(n, "DELETE", f"/api/collections/posts/records/{victim}", su))
    elif kind == "author+" or (kind.startswith("author") and not ids["authors"]):
        body = {"name": rng.choice(["ann", "bob", "cy"]), "hidden": rng.random() < 0.3}
        ids["authors"].append((await _ok(await w.call(n, "POST", "/api/collections/authors/records", su, json=body)))["id"])
    elif kind == "author~":
        body = rng.choice([{"hidden": rng.random() < 0.5}, {"name": rng.choice(["ann", "dan", "eve"])}])
        await _ok(await w.call(n, "PATCH", f"/api/collections/authors/records/{_pick(rng, ids['authors'])}", su, json=body))
    elif kind == "author-":
        victim = ids["authors"].pop(rng.randrange(len(ids["authors"])))
        await _ok(await w.call(n, "DELETE", f"/api/collections/authors/records/{victim}", su))
    elif kind == "tag+" or not ids["tags"]:
        label = rng.choice(["red", "green", "blue"])
        ids["tags"].append((await _ok(await w.call(n, "POST", "/api/collections/tags/records", su, json={"label": label})))["id"])
    elif kind == "tag-":
        victim = ids["tags"].pop(rng.randrange(len(ids["tags"])))
        await _ok(await w.call(n, "DELETE", f"/api/collections/tags/records/{victim}", su))
    elif kind == "user~":
        body = rng.choice([{"name": rng.choice(["u1", "u2", "x"])}, {"emailVisibility": rng.random() < 0.5}, {"verified": rng.random() < 0.5}])
        await _ok(await w.call(n, "PATCH", f"/api/collections/users/records/{_pick(rng, ids['users'])}", su, json=body))
    else:
        rule = rng.choice([POST_RULE, OTHER_POST_RULE])
        await _ok(await w.call(n, "PATCH", "/api/collections/posts", su, json={"listRule": rule, "viewRule": rule}))
        await _reload(w)
    return kind


def _list_urls(rng: random.Random, count: int) -> list[str]:
    """A small fixed pool of list queries, so that reads repeat and hit the cache."""
    urls = ["/api/collections/authors/records?sort=id&expand=posts_via_author"]
    for _ in range(count):
        params = {"filter": rng.choice(FILTERS), "sort": rng.choice(SORTS), "expand": rng.choice(EXPANDS),
                  "perPage": str(rng.choice([3, 50])), "page": str(rng.choice([1, 1, 2]))}  # fmt: skip
        urls.append("/api/collections/posts/records?" + str(httpx.QueryParams({k: v for k, v in params.items() if v})))
    return urls


def _read_url(w: World, rng: random.Random, pool: list[str]) -> str:
    if rng.random() < 0.3:
        return f"/api/collections/posts/records/{rng.choice(w.ids['posts'][:3] or ['missing'])}?expand={rng.choice(EXPANDS[:2])}"
    return rng.choice(pool)


async def test_cached_instances_match_an_uncached_one(world: World) -> None:
    w, rng = world, random.Random(SEED)
    deadline, reads, writes = time.monotonic() + SECONDS, 0, 0
    for _ in range(3):
        await _write(w, random.Random(SEED + 1), 0)
    history: list[str] = []
    pool = _list_urls(rng, 6)
    for step in range(MAX_STEPS):
        if time.monotonic() > deadline:
            break
        n = rng.randrange(2)
        if rng.random() < 0.12:
            history.append(f"{step}: write {await _write(w, rng, n)} on {'AB'[n]}")
            writes += 1
            continue
        who = rng.choice(["guest", "u1", "u2"])
        url = _read_url(w, rng, pool)
        history.append(f"{step}: read {url} as {who} on {'AB'[n]}")
        cached = await w.call(n, "GET", url, w.tokens[who])
        fresh = await w.call(2, "GET", url, w.tokens[who])
        reads += 1
        assert (cached.status_code, cached.json()) == (fresh.status_code, fresh.json()), (
            f"seed {SEED}, step {step}: {url} as {who} on {'AB'[n]}\nlast steps:\n" + "\n".join(history[-12:])
        )
    hits = sum(app.response_cache.hits for app in w.apps[:2])
    print(f"seed {SEED}: {reads} reads ({hits} cache hits), {writes} writes")
    assert reads > 50 and writes > 5, (reads, writes)
    assert hits > reads // 20, f"only {hits} cache hits in {reads} reads: the test exercised little"
