"""Window counters (the same contract on memory and Redis), rule lookup and client IPs."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest

from roost.tools.ratelimit import CounterStore, counter_store, find_rule, parse_rules
from roost.tools.ratelimit.client_ip import client_ip
from roost.tools.ratelimit.rules import excluded
from tests.conftest import skip_or_fail

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis", "hub"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CounterStore]:
    namespace = "roost-test-" + secrets.token_hex(6)
    url = {"memory": "", "redis": REDIS_URL}.get(request.param) or request.getfixturevalue("hub_url")
    made = counter_store(url, namespace=namespace)
    if request.param == "redis" and not await made.ping():
        await made.close()
        skip_or_fail(f"Redis not reachable at {REDIS_URL}")
    yield made
    await made.close()


async def test_hits_up_to_the_limit(store: CounterStore) -> None:
    verdicts = [await store.hit("k", 3, 30) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 30
    assert (await store.peek("k", 3, 30)).remaining == 0


async def test_keys_and_limits_are_separate(store: CounterStore) -> None:
    assert (await store.hit("a", 1, 30)).allowed
    assert (await store.hit("b", 1, 30)).allowed
    assert (await store.hit("a", 2, 30)).allowed  # another limit is another counter
    assert not (await store.hit("a", 1, 30)).allowed


async def test_peek_does_not_count_and_clear_forgets(store: CounterStore) -> None:
    for _ in range(5):
        assert (await store.peek("k", 2, 30)).allowed
    await store.hit("k", 2, 30)
    assert (await store.peek("k", 2, 30)).remaining == 1
    await store.hit("k", 2, 30)
    await store.clear("k", 2, 30)
    assert (await store.hit("k", 2, 30)).allowed


async def test_window_expires(store: CounterStore) -> None:
    assert (await store.hit("k", 1, 1)).allowed
    assert not (await store.hit("k", 1, 1)).allowed
    await asyncio.sleep(1.1)
    assert (await store.hit("k", 1, 1)).allowed


async def test_unreachable_redis_counts_per_instance_instead_of_failing_open() -> None:
    store = counter_store("redis://127.0.0.1:1/0", namespace="roost-test-down")
    try:
        assert [(await store.hit("k", 2, 30)).allowed for _ in range(3)] == [True, True, False]
    finally:
        await store.close()


def test_only_redis_urls() -> None:
    with pytest.raises(ValueError):
        counter_store("memcached://127.0.0.1")


RULES = parse_rules([
    {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300},
    {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
    {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
    {"label": "users:auth", "audience": "@guest", "duration": 3, "maxRequests": 1},
    {"label": "GET /api/health", "audience": "@auth", "duration": 1, "maxRequests": 9},
    {"label": "broken", "audience": "", "duration": 0, "maxRequests": 1},
])  # fmt: skip
GUEST, AUTH = ("", "@guest"), ("", "@auth")
LOOKUPS = [
    (["users:authWithPassword", "users:auth", "*:authWithPassword", "*:auth", "POST /api/x", "/api/x"], GUEST, "users:auth"),
    (["users:authWithPassword", "users:auth", "*:authWithPassword", "*:auth", "POST /api/x", "/api/x"], AUTH, "*:auth"),
    (["POST /api/batch", "/api/batch"], GUEST, "/api/batch"),
    (["POST /api/batch/x", "/api/batch/x"], GUEST, "/api/"),
    (["GET /api/health", "/api/health"], AUTH, "GET /api/health"),
    (["GET /api/health", "/api/health"], GUEST, "/api/"),
    (["GET /api", "/api"], GUEST, "/api/"),  # "/api" + "/" has the prefix "/api/"
    (["GET /", "/"], GUEST, None),
    (["broken"], GUEST, None),
]  # fmt: skip


@pytest.mark.parametrize(("labels", "audiences", "expected"), LOOKUPS)
def test_find_rule(labels: list[str], audiences: tuple[str, ...], expected: str | None) -> None:
    found = find_rule(RULES, labels, audiences)
    assert (found.label if found else None) == expected


def test_excluded() -> None:
    entries = ["10.0.0.1", "192.168.0.0/16", "::1", "junk"]
    assert excluded("10.0.0.1", entries)
    assert excluded("192.168.4.5", entries)
    assert excluded("0000:0000:0000:0000:0000:0000:0000:0001", entries)
    assert not excluded("10.0.0.2", entries)


def test_client_ip_takes_the_last_occurrence_of_a_header() -> None:
    headers = [(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"2.2.2.2")]
    assert client_ip("127.0.0.1", headers, ["X-Forwarded-For"]) == "2.2.2.2"
    assert client_ip("127.0.0.1", headers) == "127.0.0.1"
    assert client_ip("::1", []) == "0000:0000:0000:0000:0000:0000:0000:0001"
