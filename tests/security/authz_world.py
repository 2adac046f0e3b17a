"""The data behind the S1 authorization matrix, built through the HTTP API only, so the same
world can be set up on an in-process Roost or on a live PocketBase (the reference)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Api
from tests.security.authz_table import RULESETS, USERS_RULES

PASSWORD = "password123"
_fresh = itertools.count()


@dataclass
class World:
    tokens: dict[str, str | None] = field(default_factory=dict)  # actor -> Authorization header
    user_ids: dict[str, str] = field(default_factory=dict)  # A, B, M, K -> record id
    seeds: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # ruleset -> a/b -> record
    authors: dict[str, str] = field(default_factory=dict)  # alice/bob -> id
    links: dict[str, str] = field(default_factory=dict)  # a/b -> link record id
    file_tokens: dict[str, str] = field(default_factory=dict)


async def ok(api: Api, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    res = await api.su(method, url, **kwargs)
    assert res.status_code in (200, 204), (method, url, res.text)
    return dict(res.json()) if res.status_code == 200 else {}


async def new_user(api: Api, collection: str, email: str, **extra: Any) -> str:
    body = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, **extra}
    return str((await ok(api, "POST", f"/api/collections/{collection}/records", json=body))["id"])


async def fresh_user(api: Api) -> tuple[str, str]:
    """A new user of ``users`` and its token, for scenarios that change or delete the owner."""
    email = f"fresh{next(_fresh)}@example.com"
    return await new_user(api, "users", email, name="Fresh"), await api.login("users", email, PASSWORD)


async def cheap_passwords(api: Api, collection: str, **changes: Any) -> None:
    """Apply ``changes`` to an auth collection and drop its bcrypt cost to the minimum: the matrix
    hashes and checks dozens of passwords, and the cost is not what it tests."""
    coll = await ok(api, "GET", f"/api/collections/{collection}")
    fields = [{**f, "cost": 4} if f["type"] == "password" else f for f in coll["fields"]]
    await ok(api, "PATCH", f"/api/collections/{coll['id']}", json={**changes, "fields": fields})


async def _auth_collections(api: Api, world: World) -> None:
    await cheap_passwords(api, "users", **USERS_RULES)
    for name, rule in (("members", ""), ("staff", ""), ("gates", "verified = true"), ("closed", None)):
        await ok(api, "POST", "/api/collections", json={"name": name, "type": "auth", "authRule": rule,
                                                          "listRule": "", "viewRule": ""})  # fmt: skip
        await cheap_passwords(api, name)
    for actor, coll, email in (("A", "users", "alice"), ("B", "users", "bob"), ("M", "members", "mia"),
                               ("K", "staff", "kim")):  # fmt: skip
        world.user_ids[actor] = await new_user(api, coll, f"{email}@example.com", **(
            {"name": email} if coll == "users" else {}))  # fmt: skip
        world.tokens[actor] = await api.login(coll, f"{email}@example.com", PASSWORD)
    world.tokens["G"] = None
    world.tokens["S"] = api.su_token
    await new_user(api, "gates", "verified@example.com", verified=True)
    await new_user(api, "gates", "unverified@example.com")
    await new_user(api, "closed", "closed@example.com", verified=True)


async def _collection(api: Api, name: str, rules: dict[str, str | None], fields: list[dict[str, Any]]) -> str:
    body = {"name": name, "fields": fields, **{f"{op}Rule": rule for op, rule in rules.items()}}
    return str((await ok(api, "POST", "/api/collections", json=body))["id"])


def seed_body(world: World, which: str) -> dict[str, Any]:
    owner = "A" if which == "a" else "B"
    author = "alice" if which == "a" else "bob"
    return {"title": "ok", "tag": which, "owner": world.user_ids[owner], "author": world.authors[author]}


async def build_world(api: Api, rulesets: list[str]) -> World:
    world = World()
    await ok(api, "PATCH", "/api/settings", json={"batch": {"enabled": True}})
    await _auth_collections(api, world)
    authors_id = await _collection(api, "authors", dict.fromkeys(("list", "view"), ""), [{"name": "name", "type": "text"}])
    for name in ("alice", "bob"):
        world.authors[name] = str((await ok(api, "POST", "/api/collections/authors/records", json={"name": name}))["id"])
    grants = [{"name": "user", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
              {"name": "doc", "type": "text"}]  # fmt: skip
    await _collection(api, "grants", {}, grants)
    for actor, doc in (("A", "a"), ("B", "zzz")):
        await ok(api, "POST", "/api/collections/grants/records", json={"user": world.user_ids[actor], "doc": doc})
    fields = [
        {"name": "title", "type": "text"}, {"name": "note", "type": "text"}, {"name": "tag", "type": "text"},
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "author", "type": "relation", "collectionId": authors_id, "maxSelect": 1},
        {"name": "doc", "type": "file", "protected": True, "maxSelect": 1},
    ]  # fmt: skip
    link_fields = []
    for rs in rulesets:
        coll_id = await _collection(api, f"r_{rs}", RULESETS[rs], fields)
        link_fields.append({"name": f"t_{rs}", "type": "relation", "collectionId": coll_id, "maxSelect": 1})
        world.seeds[rs] = {}
        for which in ("a", "b"):
            files = {"doc": (f"{which}.txt", b"secret " + which.encode(), "text/plain")}
            form = {k: v for k, v in seed_body(world, which).items()}
            world.seeds[rs][which] = await ok(api, "POST", f"/api/collections/r_{rs}/records", data=form, files=files)
    await _collection(api, "links", dict.fromkeys(("list", "view"), ""), link_fields)
    for which in ("a", "b"):
        body = {f"t_{rs}": world.seeds[rs][which]["id"] for rs in rulesets}
        world.links[which] = str((await ok(api, "POST", "/api/collections/links/records", json=body))["id"])
    for actor, token in world.tokens.items():
        if token:
            res = await api.call("POST", "/api/files/token", token=token)
            assert res.status_code == 200, res.text
            world.file_tokens[actor] = str(res.json()["token"])
    return world
