"""Login lockout and the TOTP attempt limit hold under concurrent bursts and across identity fields.

An outside review found that a burst of wrong passwords with the right one in it sometimes let
the right one in past the limit (each attempt looked at the count before any failure of the
burst was counted), that failures by e-mail did not count against logins by username of the
same account, and that concurrent TOTP codes all got checked on the Redis store. Each runs on
SQLite and PostgreSQL, with the counters in process memory and in Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.apis.test_mail_flows import U, make_user
from tests.apis.test_totp import enrolled
from tests.cache_services import REDIS_URL, redis_reachable
from tests.conftest import Api, skip_or_fail

FAILED = {"data": {}, "message": "Failed to authenticate.", "status": 400}
LIMIT = 5
BURST = 30
THROTTLE = {"enabled": True, "freeFailures": LIMIT, "maxFailures": LIMIT, "maxFailuresPerIP": 1000, "window": 300, "slowdownMs": 0}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["memory", "redis"])
async def site(request: pytest.FixtureRequest, api: Api) -> AsyncIterator[Api]:
    """``api`` with its login counters and its key-value store in process memory or in Redis."""
    from roost.tools.ratelimit import counter_store
    from roost.tools.store.redis import RedisStore

    if request.param == "redis":
        reason = await redis_reachable()
        if reason:
            skip_or_fail(reason)
        # a namespace of this test's own, so that counts of earlier runs cannot leak in
        namespace = "roost-test-" + secrets.token_hex(6)
        api.app.__dict__["counters"] = counter_store(REDIS_URL, namespace=namespace)
        api.app.store = RedisStore(REDIS_URL, prefix=namespace + ":store:")
    res = await api.su("PATCH", "/api/settings", json={"roostAuth": {"loginThrottle": THROTTLE}})
    assert res.status_code == 200, res.text
    yield api
    if request.param == "redis":
        await api.app.__dict__["counters"].close()


async def login(api: Api, identity: str, password: str) -> httpx.Response:
    body = {"identity": identity, "password": password}
    return await api.call("POST", U + "auth-with-password", json=body)


async def add_username(api: Api) -> None:
    coll = (await api.su("GET", "/api/collections/users")).json()
    fields = [*coll["fields"], {"name": "username", "type": "text"}]
    patch = {
        "fields": fields,
        "indexes": [*coll["indexes"], 'CREATE UNIQUE INDEX "idx_users_username" ON "users" ("username")'],
        "passwordAuth": {"enabled": True, "identityFields": ["email", "username"]},
    }
    res = await api.su("PATCH", "/api/collections/users", json=patch)
    assert res.status_code == 200, res.text


async def test_the_right_password_in_a_burst_is_refused_past_the_limit(site: Api) -> None:
    await make_user(site, "ann@example.com")
    # open the pools' connections first, so the burst's attempts are counted in the order sent
    await asyncio.gather(*(login(site, "warm@example.com", "wrong-password") for _ in range(BURST + 1)))
    for _ in range(LIMIT - 1):  # one attempt left, taken by the first of the burst to be counted
        assert (await login(site, "ann@example.com", "wrong-password")).json() == FAILED
    attempts = [login(site, "ann@example.com", "wrong-password") for _ in range(BURST)]
    answers = await asyncio.gather(*attempts, login(site, "ann@example.com", "password123"))
    assert [(r.status_code, r.json()) for r in answers] == [(400, FAILED)] * len(answers)
    assert (await login(site, "ann@example.com", "password123")).json() == FAILED


async def test_email_and_username_failures_share_one_count(site: Api) -> None:
    await add_username(site)
    await make_user(site, "bob@example.com", username="bobby")
    for n in range(LIMIT):
        res = await login(site, "bob@example.com" if n % 2 else "bobby", "wrong-password")
        assert (res.status_code, res.json()) == (400, FAILED)
    for identity in ("bobby", "bob@example.com"):
        assert (await login(site, identity, "password123")).json() == FAILED


async def test_unknown_identities_keep_the_same_answers(site: Api) -> None:
    await make_user(site, "cat@example.com")
    answers = {}
    for identity in ("cat@example.com", "nobody@example.com"):
        burst = [login(site, identity, "wrong-password") for _ in range(LIMIT + 2)]
        answers[identity] = [(r.status_code, r.json()) for r in await asyncio.gather(*burst)]
    assert answers["cat@example.com"] == answers["nobody@example.com"] == [(400, FAILED)] * (LIMIT + 2)


async def test_a_success_still_clears_the_count(site: Api) -> None:
    await make_user(site, "dan@example.com")
    for _ in range(3):
        for _ in range(LIMIT - 1):
            assert (await login(site, "dan@example.com", "wrong-password")).status_code == 400
        assert (await login(site, "dan@example.com", "password123")).status_code == 200


async def test_a_totp_burst_checks_no_more_codes_than_the_limit(site: Api) -> None:
    from roost.core.auth.totp import ATTEMPTS

    _, _, totp, _ = await enrolled(site, "eve@example.com")
    await site.su("PATCH", "/api/collections/users", json={"totp": {"enabled": True}})
    now = {totp.at(time.time() + drift * 30) for drift in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in now)
    body: dict[str, Any] = {"identity": "eve@example.com", "code": wrong}
    burst = [site.call("POST", U + "auth-with-totp", json=body) for _ in range(4 * ATTEMPTS)]
    codes = [r.status_code for r in await asyncio.gather(*burst)]
    assert codes.count(400) <= ATTEMPTS and set(codes) <= {400, 429}, codes
    right = await site.call("POST", U + "auth-with-totp", json={**body, "code": totp.now()})
    assert right.status_code == 429
