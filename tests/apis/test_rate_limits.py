"""Rate limits per PocketBase's ``rateLimits`` settings, and the client IP behind trusted proxies.

The matching outcomes below were captured from the PocketBase 0.40 server with the same rules
and requests. Rate limiting does not touch the database, so these run on SQLite only.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api, skip_or_fail

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOO_MANY = {"data": {}, "message": "Too Many Requests.", "status": 429}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rule(label: str, max_requests: int, duration: int = 60, audience: str = "") -> dict[str, Any]:
    return {"label": label, "audience": audience, "duration": duration, "maxRequests": max_requests}


async def set_limits(api: Api, *rules: dict[str, Any], **extra: Any) -> None:
    res = await api.su(
        "PATCH",
        "/api/settings",
        json={"rateLimits": {"enabled": True, "rules": list(rules), **extra}},
    )
    assert res.status_code == 200, res.text


async def statuses(api: Api, method: str, path: str, count: int, **kwargs: Any) -> list[int]:
    return [(await api.call(method, path, **kwargs)).status_code for _ in range(count)]


@pytest.fixture
async def site(api: Api) -> Api:
    """Two public collections (posts, notes) and a user ``ann@example.com``."""
    for name in ("posts", "notes"):
        res = await api.su("POST", "/api/collections", json={
            "name": name, "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "title", "type": "text"}],
        })  # fmt: skip
        assert res.status_code == 200, res.text
    body = {"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"}
    assert (await api.call("POST", "/api/collections/users/records", json=body)).status_code == 200
    return api


async def test_off_by_default(site: Api) -> None:
    assert await statuses(site, "GET", "/api/collections/posts/records", 30) == [200] * 30


async def test_over_the_limit_answers_429_with_retry_after(site: Api) -> None:
    await set_limits(site, rule("*:list", 2, duration=30))
    assert await statuses(site, "GET", "/api/collections/posts/records", 2) == [200, 200]
    res = await site.call("GET", "/api/collections/posts/records")
    assert res.status_code == 429
    assert res.json() == TOO_MANY
    assert 1 <= int(res.headers["retry-after"]) <= 30
    assert res.headers["x-content-type-options"] == "nosniff"  # still inside the edge middleware


PRECEDENCE = [
    # (name, rules in order, path, expected statuses) -- each outcome seen on PocketBase 0.40
    ("collection tag before exact path",
     [rule("/api/", 1), rule("GET /api/collections/posts/records", 3), rule("posts:list", 2)],
     "/api/collections/posts/records", [200, 200, 429, 429]),
    ("exact path before prefix",
     [rule("/api/", 1), rule("GET /api/collections/posts/records", 3)],
     "/api/collections/posts/records", [200, 200, 200, 429]),
    ("wildcard tag before prefix", [rule("/api/", 1), rule("*:list", 2)],
     "/api/collections/posts/records", [200, 200, 429, 429]),
    ("prefix rules in rule order (long first)", [rule("/api/collections/", 2), rule("/api/", 1)],
     "/api/collections/posts/records", [200, 200, 429, 429]),
    ("prefix rules in rule order (short first)", [rule("/api/", 1), rule("/api/collections/", 2)],
     "/api/collections/posts/records", [200, 429, 429, 429]),
    ("path without method", [rule("/api/health", 1)], "/api/health", [200, 429, 429, 429]),
    ("other method does not match", [rule("POST /api/health", 1)], "/api/health", [200, 200, 200, 200]),
    ("guest rule applies to guests", [rule("*:list", 1, audience="@auth"), rule("*:list", 2, audience="@guest")],
     "/api/collections/posts/records", [200, 200, 429, 429]),
    ("auth-only rule skips guests", [rule("*:list", 1, audience="@auth")],
     "/api/collections/posts/records", [200, 200, 200, 200]),
    ("unknown routes count too", [rule("/api/", 2)], "/api/nothing/here", [404, 404, 429, 429]),
    ("a missing collection is not limited", [rule("/api/", 1)], "/api/collections/missing/records", [404] * 4),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "path", "expected"), [p[1:] for p in PRECEDENCE], ids=[p[0] for p in PRECEDENCE]
)
async def test_rule_precedence(
    site: Api, rules: list[dict[str, Any]], path: str, expected: list[int]
) -> None:
    await set_limits(site, *rules)
    assert await statuses(site, "GET", path, len(expected)) == expected


async def test_collection_routes_count_per_collection_global_routes_share(site: Api) -> None:
    await set_limits(site, rule("/api/", 2))
    assert await statuses(site, "GET", "/api/collections/posts/records", 3) == [200, 200, 429]
    assert await statuses(site, "GET", "/api/collections/notes/records", 3) == [200, 200, 429]
    # non-collection routes share one counter per rule
    assert await statuses(site, "GET", "/api/health", 2) == [200, 200]
    assert (await site.call("GET", "/api/settings")).status_code == 429


async def test_auth_tags_and_audiences(site: Api) -> None:
    await set_limits(site, rule("users:auth", 1), rule("*:list", 1, audience="@auth"))
    login = {"identity": "ann@example.com", "password": "password123"}
    first = await site.call("POST", "/api/collections/users/auth-with-password", json=login)
    assert first.status_code == 200
    second = await site.call("POST", "/api/collections/users/auth-with-password", json=login)
    assert second.status_code == 429
    token = first.json()["token"]
    # the @auth rule counts the signed-in user; a guest is not limited by it
    assert await statuses(site, "GET", "/api/collections/posts/records", 2, token=token) == [
        200,
        429,
    ]
    assert await statuses(site, "GET", "/api/collections/posts/records", 2) == [200, 200]


async def test_superusers_are_never_limited(site: Api) -> None:
    await set_limits(site, rule("/api/", 1), rule("*:list", 1))
    for _ in range(5):
        assert (await site.su("GET", "/api/collections/posts/records")).status_code == 200
        assert (await site.su("GET", "/api/settings")).status_code == 200


async def test_excluded_ips_and_subnets(site: Api) -> None:
    await set_limits(site, rule("/api/", 1), excludedIPs=["10.1.2.3", "192.168.0.0/16"])
    await site.su("PATCH", "/api/settings", json={"trustedProxy": {"headers": ["X-Real-IP"]}})
    for ip, expected in (
        ("10.1.2.3", [200] * 3),
        ("192.168.7.7", [200] * 3),
        ("10.1.2.4", [200, 429, 429]),
    ):
        assert (
            await statuses(site, "GET", "/api/health", 3, headers={"X-Real-IP": ip}) == expected
        ), ip


async def test_window_ends(site: Api) -> None:
    await set_limits(site, rule("/api/health", 1, duration=1))
    assert await statuses(site, "GET", "/api/health", 2) == [200, 429]
    await asyncio.sleep(1.1)
    assert await statuses(site, "GET", "/api/health", 2) == [200, 429]


CLIENT_IP = [
    # (name, trustedProxy, headers, the IP /api/health reports to a superuser)
    ("peer address without proxy settings", {}, {"X-Forwarded-For": "9.9.9.9"}, "127.0.0.1"),
    ("rightmost valid entry by default", {"headers": ["X-Forwarded-For"]},
     {"X-Forwarded-For": "1.1.1.1, bogus, 2.2.2.2"}, "2.2.2.2"),
    ("leftmost when asked", {"headers": ["X-Forwarded-For"], "useLeftmostIP": True},
     {"X-Forwarded-For": "bogus, 1.1.1.1, 2.2.2.2"}, "1.1.1.1"),
    ("first configured header that yields an IP", {"headers": ["CF-Connecting-IP", "X-Real-IP"]},
     {"X-Real-IP": "3.3.3.3"}, "3.3.3.3"),
    ("no valid entry falls back to the peer", {"headers": ["X-Real-IP"]}, {"X-Real-IP": "nope"}, "127.0.0.1"),
    ("IPv6 written out in full", {"headers": ["X-Real-IP"]}, {"X-Real-IP": "2001:db8::1"},
     "2001:0db8:0000:0000:0000:0000:0000:0001"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("proxy", "headers", "ip"), [c[1:] for c in CLIENT_IP], ids=[c[0] for c in CLIENT_IP]
)
async def test_client_ip(api: Api, proxy: dict[str, Any], headers: dict[str, str], ip: str) -> None:
    if proxy:
        assert (
            await api.su("PATCH", "/api/settings", json={"trustedProxy": proxy})
        ).status_code == 200
    res = await api.su("GET", "/api/health", headers=headers)
    assert res.json()["data"]["realIP"] == ip


async def test_spoofed_forwarded_for_does_not_escape_the_limit(site: Api) -> None:
    await set_limits(site, rule("/api/health", 2))
    codes = [
        (
            await site.call("GET", "/api/health", headers={"X-Forwarded-For": f"10.0.0.{i}"})
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 429, 429]


async def test_trusted_proxy_ips_count_separately(site: Api) -> None:
    await set_limits(site, rule("/api/health", 1))
    await site.su("PATCH", "/api/settings", json={"trustedProxy": {"headers": ["X-Forwarded-For"]}})
    for ip in ("10.0.0.1", "10.0.0.2"):
        assert await statuses(site, "GET", "/api/health", 2, headers={"X-Forwarded-For": ip}) == [
            200,
            429,
        ]


INVALID = [
    # (name, rateLimits patch, expected data.rateLimits) -- PocketBase 0.40's answers
    ("bad rule", {"rules": [{"label": "bad label!", "audience": "x", "duration": 0, "maxRequests": 0}]},
     {"rules": {"0": {
         "audience": {"code": "validation_in_invalid", "message": "Must be a valid value."},
         "duration": {"code": "validation_required", "message": "Cannot be blank."},
         "label": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
         "maxRequests": {"code": "validation_required", "message": "Cannot be blank."}}}}),
    ("conflicting audiences", {"rules": [rule("/api/", 1), rule("/api/", 1, audience="@guest")]},
     {"rules": {"1": {"label": {
         "code": "validation_conflicting_rate_limit_rule",
         "message": "Rate limit rule configuration with label /api/ already exists or conflicts with another rule.",
         "params": {"label": "/api/"}}}}}),
    ("excluded IP", {"rules": [rule("/api/", 1)], "excludedIPs": ["not-an-ip", "10.0.0.0/8"]},
     {"excludedIPs": {"0": {"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."}}}),
    ("enabled without rules", {"rules": []},
     {"rules": {"code": "validation_required", "message": "Cannot be blank."}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("patch", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_settings(api: Api, patch: dict[str, Any], expected: dict[str, Any]) -> None:
    res = await api.su("PATCH", "/api/settings", json={"rateLimits": {"enabled": True, **patch}})
    assert res.status_code == 400
    assert res.json()["data"] == {"rateLimits": expected}


@pytest.mark.parametrize(
    "label", ["GET /api/x", "*:list", "posts:list", "list", "/api/", "get /x", "POST /", "/"]
)
async def test_valid_labels(api: Api, label: str) -> None:
    res = await api.su(
        "PATCH", "/api/settings", json={"rateLimits": {"enabled": True, "rules": [rule(label, 1)]}}
    )
    assert res.status_code == 200, res.text


# --- two instances sharing Redis -------------------------------------------------------------


async def _redis_reason() -> str | None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # any failure means "not here"
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    finally:
        await client.aclose()
    return None


@pytest.fixture
async def two_instances(tmp_path: Path) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two Roost apps with their own databases, counting in one Redis (a test-only namespace)."""
    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App
    from roost.tools.ratelimit import counter_store

    reason = await _redis_reason()
    if reason:
        skip_or_fail(reason)
    namespace = "roost-test-" + secrets.token_hex(6)
    apps, clients = [], []
    for n in range(2):
        app = App(Config(data_dir=tmp_path / f"node{n}", redis_url=REDIS_URL))
        await app.bootstrap()
        app.__dict__["counters"] = counter_store(REDIS_URL, namespace=namespace)
        await app.settings.update(
            {"rateLimits": {"enabled": True, "rules": [rule("/api/", 5, duration=30)]}}
        )
        apps.append(app)
        transport = httpx.ASGITransport(app=build_asgi(app))
        clients.append(httpx.AsyncClient(transport=transport, base_url=f"http://node{n}.test"))
    yield clients
    for client, app in zip(clients, apps, strict=True):
        await client.aclose()
        await app.__dict__["counters"].close()
        await app.close()


async def test_limit_holds_across_two_instances_sharing_redis(
    two_instances: list[httpx.AsyncClient],
) -> None:
    limit = 5
    codes = [(await two_instances[i % 2].get("/api/health")).status_code for i in range(limit + 1)]
    assert codes == [200] * limit + [429]
    # both instances now refuse this client
    assert [(await c.get("/api/health")).status_code for c in two_instances] == [429, 429]


async def test_writes_inside_a_batch_count_under_their_collection_tag(site: Api) -> None:
    assert (await site.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    await set_limits(site, rule("posts:create", 2))
    create = {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "x"}}
    res = await site.call("POST", "/api/batch", json={"requests": [create, create]})
    assert res.status_code == 200, res.text
    res = await site.call("POST", "/api/batch", json={"requests": [create]})
    assert res.status_code == 400
    failure = res.json()["data"]["requests"]["0"]
    assert failure["code"] == "batch_request_failed" and failure["response"] == TOO_MANY
    # the batch count is its own: the standalone route still has its full allowance
    assert await statuses(site, "POST", "/api/collections/posts/records", 2, json={"title": "y"}) == [200, 200]
