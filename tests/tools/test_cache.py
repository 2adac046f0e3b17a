"""One contract, every response-cache backend: memory, Redis, memcached and the embedded hub."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from roost.tools.cache import Cache, CacheError, MemoryCache, create_cache
from tests.cache_services import REDIS_URL, running_memcached


@pytest.fixture(scope="module")
def memcached_url() -> Iterator[str]:
    with running_memcached() as url:
        yield url


@pytest.fixture(params=["memory", "redis", "memcached", "hub"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    fixture = {"memcached": "memcached_url", "hub": "hub_url"}.get(request.param)
    url = request.getfixturevalue(fixture) if fixture else {"memory": "memory://", "redis": REDIS_URL}[request.param]
    backend = create_cache(url)
    try:
        await backend.start()
    except CacheError as exc:
        from tests.conftest import skip_or_fail

        skip_or_fail(str(exc).splitlines()[0][:120])
    yield backend
    await backend.close()


def _key(name: str) -> str:
    return f"test:{secrets.token_hex(6)}:{name}"


async def test_set_and_get_many_keep_order(cache: Cache) -> None:
    a, b, c = _key("a"), _key("b"), _key("c")
    await cache.set(a, b"one")
    await cache.set(c, b"\x00three")
    assert await cache.get_many([c, b, a]) == [b"\x00three", None, b"one"]
    assert await cache.get_many([]) == []


async def test_entries_expire(cache: Cache) -> None:
    key = _key("ttl")
    await cache.set(key, b"v", ttl=1)
    assert await cache.get_many([key]) == [b"v"]
    await asyncio.sleep(2.1)
    assert await cache.get_many([key]) == [None]


async def test_add_stores_only_missing_keys(cache: Cache) -> None:
    key = _key("add")
    assert await cache.add(key, b"first") is True
    assert await cache.add(key, b"second") is False
    assert await cache.get_many([key]) == [b"first"]


async def test_incr_reports_missing_counters(cache: Cache) -> None:
    key = _key("n")
    assert await cache.incr(key) is None
    assert await cache.get_many([key]) == [None]
    await cache.add(key, b"41")
    assert await cache.incr(key) == 42
    assert await cache.incr(key) == 43
    assert await cache.get_many([key]) == [b"43"]


async def test_delete_and_overwrite(cache: Cache) -> None:
    key = _key("d")
    await cache.set(key, b"x")
    await cache.set(key, b"y")
    assert await cache.get_many([key]) == [b"y"]
    await cache.delete(key)
    await cache.delete(key)
    assert await cache.get_many([key]) == [None]


async def test_long_keys_and_large_values(cache: Cache) -> None:
    key = _key("k" * 400)
    value = secrets.token_bytes(200_000)
    await cache.set(key, value)
    assert await cache.get_many([key]) == [value]


async def test_concurrent_increments_are_atomic(cache: Cache) -> None:
    key = _key("c")
    await cache.add(key, b"0")
    results = await asyncio.gather(*[cache.incr(key) for _ in range(50)])
    assert sorted(r for r in results if r is not None) == list(range(1, 51))


async def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_bytes=100)
    await cache.set("a", b"x" * 40)
    await cache.set("b", b"x" * 40)
    await cache.get_many(["a"])
    await cache.set("c", b"x" * 40)
    assert await cache.get_many(["a", "b", "c"]) == [b"x" * 40, None, b"x" * 40]


def test_unknown_urls_are_refused() -> None:
    with pytest.raises(CacheError):
        create_cache("ftp://x")


async def test_unreachable_backends_raise_cache_error() -> None:
    for url in ("redis://127.0.0.1:1/0", "memcached://127.0.0.1:1"):
        backend = create_cache(url)
        with pytest.raises(CacheError):
            await backend.start()


async def test_data_version_counters_start_at_random_and_move_on_a_bump(cache: Cache) -> None:
    a, b = _key("va"), _key("vb")
    first = await cache.counters([a, b])
    assert all(value.isdigit() for value in first)
    assert await cache.counters([a, b]) == first  # reading does not move them
    await cache.bump(a)
    after = await cache.counters([a, b])
    assert int(after[0]) == int(first[0]) + 1
    if not _same_slot(cache, a, b):  # the hub's page may put two keys in one slot, by design
        assert after[1] == first[1]
    fresh = _key("vc")
    await cache.bump(fresh)  # a bump of a counter never read starts it
    assert (await cache.counters([fresh]))[0].isdigit()


def _same_slot(cache: Cache, a: str, b: str) -> bool:
    from roost.tools.cache.hub import HubCache

    return isinstance(cache, HubCache) and cache._slot(a) == cache._slot(b)


BUMPS = 20_000


async def test_hub_counters_are_shared_by_every_process_without_asking_the_hub(hub_url: str) -> None:
    """Workers read the hub's counter page directly, and bumps from several processes at once are
    each counted (the page file's lock)."""
    import subprocess
    import sys
    import time

    key = _key("shared")
    reader = create_cache(hub_url)
    await reader.start()
    try:
        start = int((await reader.counters([key]))[0])
        program = (
            "import asyncio, sys, time\n"
            "from roost.tools.cache import create_cache\n"
            "async def main():\n"
            "    c = create_cache(sys.argv[1])\n"
            "    await c.start()\n"
            "    time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all start together\n"
            "    for _ in range(BUMPS):\n"
            "        await c.bump(sys.argv[2])\n"
            "    await c.close()\n"
            "asyncio.run(main())\n"
        ).replace("BUMPS", str(BUMPS))
        at = str(time.time() + 2)
        bumpers = [subprocess.Popen([sys.executable, "-c", program, hub_url, key, at]) for _ in range(3)]
        assert [p.wait(timeout=60) for p in bumpers] == [0, 0, 0]
        await reader._client.close()  # reading needs no connection to the hub
        assert int((await reader.counters([key]))[0]) == (start + 3 * BUMPS) % (1 << 64)
    finally:
        await reader.close()


async def test_hub_counters_stay_on_the_hub_when_it_has_no_page(caplog: pytest.LogCaptureFixture) -> None:
    """Workers of this version under a supervisor started by an older one (replaced by SIGHUP
    after an upgrade) find no counter page: they keep the counters as keys on the hub."""
    from pathlib import Path

    from roost.tools.hub import HubThread
    from roost.tools.hub import protocol as p

    hub = HubThread()
    hub.start()
    try:
        Path(hub.directory, p.COUNTERS_FILE).unlink()
        first, second = create_cache(hub.url), create_cache(hub.url)
        await first.start()
        await second.start()
        assert "no counter page" in caplog.text
        key = _key("nopage")
        start = int((await first.counters([key]))[0])
        assert (await second.counters([key]))[0] == str(start).encode()
        await second.bump(key)
        assert int((await first.counters([key]))[0]) == start + 1
        await first.close()
        await second.close()
    finally:
        hub.stop()
