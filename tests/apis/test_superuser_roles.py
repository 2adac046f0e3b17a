"""Superuser roles on every backend: read-only superusers and superusers limited to collections.

Superusers without a role keep every power, and the ``_superusers`` collection shows no
``superuserRoles`` option until one is set.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

READ_ONLY = "This superuser is read-only."


async def _superuser(api: Api, email: str) -> tuple[str, str]:
    body = {"email": email, "password": "password123", "passwordConfirm": "password123"}
    res = await api.su("POST", "/api/collections/_superusers/records", json=body)
    assert res.status_code == 200, res.text
    return res.json()["id"], await api.login("_superusers", email, "password123")


@pytest.fixture
async def world(api: Api) -> dict[str, Any]:
    assert "superuserRoles" not in (await api.su("GET", "/api/collections/_superusers")).json()
    reader_id, reader = await _superuser(api, "reader@example.com")
    scoped_id, scoped = await _superuser(api, "scoped@example.com")
    for name in ("posts", "vault"):
        await api.create_collection({"name": name, "fields": [{"name": "title", "type": "text"}]})
    await api.su("PATCH", "/api/collections/posts", json={"fields": [
        {"name": "title", "type": "text"},
        {"name": "secret", "type": "relation", "collectionId": (await api.su("GET", "/api/collections/vault")).json()["id"], "maxSelect": 1}]})  # fmt: skip
    vault = await api.create_record("vault", {"title": "v"})
    post = await api.create_record("posts", {"title": "p", "secret": vault["id"]})
    roles = {reader_id: {"readonly": True}, scoped_id: {"collections": ["posts"]}}
    res = await api.su("PATCH", "/api/collections/_superusers", json={"superuserRoles": roles})
    assert res.status_code == 200 and res.json()["superuserRoles"] == roles, res.text
    await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}})
    return {
        "reader": reader,
        "scoped": scoped,
        "su": api.su_token,
        "post": post["id"],
        "vault": vault["id"],
    }


async def test_a_read_only_superuser_reads_everything_and_writes_nothing(
    api: Api, world: dict[str, Any]
) -> None:
    token = world["reader"]
    assert (await api.call("GET", "/api/collections/vault/records", token=token)).status_code == 200
    assert (await api.call("GET", "/api/collections", token=token)).status_code == 200
    assert (await api.call("GET", "/api/settings", token=token)).status_code == 200
    assert (
        await api.call("POST", "/api/collections/_superusers/auth-refresh", token=token)
    ).status_code == 200
    writes = [
        ("POST", "/api/collections/posts/records", {"title": "x"}),
        ("PATCH", f"/api/collections/posts/records/{world['post']}", {"title": "x"}),
        ("DELETE", f"/api/collections/posts/records/{world['post']}", None),
        ("PATCH", "/api/collections/posts", {"listRule": ""}),
        ("POST", "/api/collections", {"name": "more"}),
        ("PATCH", "/api/settings", {"meta": {"appName": "x"}}),
        ("PATCH", "/api/collections/_superusers", {"superuserRoles": {}}),
    ]
    for method, url, body in writes:
        res = await api.call(method, url, token=token, json=body)
        assert res.status_code == 403 and res.json()["message"] == READ_ONLY, (
            method,
            url,
            res.text,
        )
    batch = {
        "requests": [
            {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "b"}}
        ]
    }
    res = await api.call("POST", "/api/batch", token=token, json=batch)
    assert (
        res.status_code == 400 and res.json()["data"]["requests"]["0"]["response"]["status"] == 403
    )
    answer = (
        await api.call(
            "POST",
            "/api/graphql",
            token=token,
            json={"query": 'mutation { createPosts(data: {title: "g"}) { id } }'},
        )
    ).json()
    assert answer["errors"][0]["extensions"]["status"] == 403
    assert (await api.su("GET", "/api/collections/posts/records")).json()["totalItems"] == 1


async def test_a_superuser_limited_to_collections_stays_inside_them(
    api: Api, world: dict[str, Any]
) -> None:
    token = world["scoped"]
    assert (
        await api.call("POST", "/api/collections/posts/records", token=token, json={"title": "ok"})
    ).status_code == 200
    for url in (
        "/api/collections/vault/records",
        f"/api/collections/vault/records/{world['vault']}",
    ):
        assert (await api.call("GET", url, token=token)).status_code == 403
    viewed = (
        await api.call(
            "GET", f"/api/collections/posts/records/{world['post']}?expand=secret", token=token
        )
    ).json()
    assert "secret" not in viewed.get("expand", {}), viewed
    full = (
        await api.call(
            "GET",
            f"/api/collections/posts/records/{world['post']}?expand=secret",
            token=world["su"],
        )
    ).json()
    assert full["expand"]["secret"]["id"] == world["vault"]
    # no new superusers and no schema or settings changes
    body = {"email": "new@example.com", "password": "password123", "passwordConfirm": "password123"}
    assert (
        await api.call("POST", "/api/collections/_superusers/records", token=token, json=body)
    ).status_code == 403
    assert (
        await api.call("PATCH", "/api/collections/posts", token=token, json={"listRule": ""})
    ).status_code == 403
    # realtime events of other collections do not reach it
    hub = api.app.realtime
    await hub.drain()
    client = hub.connect("127.0.0.1")
    res = await api.call(
        "POST",
        "/api/realtime",
        token=token,
        json={"clientId": client.id, "subscriptions": ["vault/*", "posts/*"]},
    )
    assert res.status_code == 204
    await api.create_record("vault", {"title": "w"})
    await api.create_record("posts", {"title": "q"})
    await hub.drain()
    topics = [item[0] for item in client.outbox.take_ready(100) if item is not None]
    assert topics == ["posts/*"]


@pytest.mark.parametrize(
    "roles",
    [[], {"x": {"readonly": "yes"}}, {"x": {"collections": "posts"}}, {"x": {"admin": True}}],
)
async def test_bad_roles_are_refused(api: Api, roles: Any) -> None:
    res = await api.su("PATCH", "/api/collections/_superusers", json={"superuserRoles": roles})
    assert (
        res.status_code == 400
        and res.json()["data"]["superuserRoles"]["code"] == "validation_invalid_superuser_roles"
    )
    res = await api.su("PATCH", "/api/collections/users", json={"superuserRoles": {}})
    assert res.status_code == 400 and "superuserRoles" in res.json()["data"]
