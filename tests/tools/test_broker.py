"""One contract, every broker: memory, Redis pub/sub, PostgreSQL LISTEN/NOTIFY and the embedded hub."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from roost.tools.broker import Broker, BrokerError, create_broker
from roost.tools.broker.postgres import Reassembler, encode_messages
from tests.conftest import PG_URL, skip_or_fail
from tests.reliability.fault_proxy import FaultProxy

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
URLS = {"memory": "", "redis": REDIS_URL, "postgres": PG_URL, "hub": ""}


async def _started(url: str) -> Broker:
    broker = create_broker(url)
    try:
        await broker.start()
    except BrokerError as exc:
        skip_or_fail(f"broker unavailable: {str(exc).splitlines()[0][:120]}")
    return broker


@pytest.fixture(params=list(URLS))
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Broker]]:
    """A factory of started brokers of one kind (two of them stand for two processes)."""
    made: list[Broker] = []
    url = request.getfixturevalue("hub_url") if request.param == "hub" else URLS[request.param]
    first = await _started(url)
    made.append(first)
    pending = [first]

    def make() -> Broker:
        if pending:
            return pending.pop()
        if not first.cross_process:
            return first
        broker = create_broker(url)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


def _channel() -> str:
    return "test." + secrets.token_hex(4)


async def _collect(broker: Broker, channel: str) -> list[bytes]:
    received: list[bytes] = []

    async def handler(payload: bytes) -> None:
        received.append(payload)

    await broker.subscribe(channel, handler)
    return received


async def _wait_for(received: list[bytes], count: int, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while len(received) < count:
            await asyncio.sleep(0.01)


async def test_publisher_receives_its_own_messages_in_order(brokers: Callable[[], Broker]) -> None:
    broker = brokers()
    channel = _channel()
    received = await _collect(broker, channel)
    for n in range(20):
        await broker.publish(channel, b"m%d" % n)
    await _wait_for(received, 20)
    assert received == [b"m%d" % n for n in range(20)]


async def test_messages_reach_another_process(brokers: Callable[[], Broker]) -> None:
    sender, receiver = brokers(), brokers()
    await receiver.start()
    channel = _channel()
    received = await _collect(receiver, channel)
    await asyncio.sleep(0.1)
    await sender.publish(channel, b'{"a":1}')
    await _wait_for(received, 1)
    assert received == [b'{"a":1}']


async def test_channels_are_isolated_and_unsubscribe_stops_delivery(brokers: Callable[[], Broker]) -> None:
    broker = brokers()
    one, two = _channel(), _channel()
    got_one: list[bytes] = []

    async def handler(payload: bytes) -> None:
        got_one.append(payload)

    unsubscribe = await broker.subscribe(one, handler)
    got_two = await _collect(broker, two)
    await broker.publish(two, b"two")
    await _wait_for(got_two, 1)
    await unsubscribe()
    await broker.publish(one, b"late")
    await broker.publish(two, b"marker")
    await _wait_for(got_two, 2)
    assert got_one == []


async def test_large_and_binary_payloads_survive(brokers: Callable[[], Broker]) -> None:
    broker = brokers()
    channel = _channel()
    received = await _collect(broker, channel)
    big = ("é" * 20_000).encode()
    binary = bytes(range(256)) * 3
    await broker.publish(channel, big)
    await broker.publish(channel, binary)
    await _wait_for(received, 2)
    assert received == [big, binary]


async def test_a_failing_handler_does_not_stop_the_others(brokers: Callable[[], Broker]) -> None:
    broker = brokers()
    channel = _channel()

    async def broken(payload: bytes) -> None:
        raise RuntimeError("boom")

    await broker.subscribe(channel, broken)
    received = await _collect(broker, channel)
    await broker.publish(channel, b"x")
    await broker.publish(channel, b"y")
    await _wait_for(received, 2)
    assert received == [b"x", b"y"]


async def test_ping_answers_while_the_broker_is_up(brokers: Callable[[], Broker]) -> None:
    await brokers().ping()


@pytest.fixture(params=["redis", "postgres"])
async def proxied(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, FaultProxy]]:
    """A started cross-process broker that reaches its server through a fault proxy."""
    target = urlsplit(URLS[request.param])
    async with FaultProxy(target.hostname or "127.0.0.1", target.port or 0) as proxy:
        netloc = target.netloc.rsplit("@", 1)[0] + "@" if "@" in target.netloc else ""
        broker = await _started(target._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}").geturl())
        try:
            yield broker, proxy
        finally:
            await broker.close()


async def test_a_cut_broker_fails_ping_and_reports_the_link_coming_back(proxied: tuple[Broker, FaultProxy]) -> None:
    broker, proxy = proxied
    back = asyncio.Event()

    async def reconnected() -> None:
        back.set()

    broker.on_reconnect(reconnected)
    channel = _channel()
    received = await _collect(broker, channel)
    await proxy.cut()
    with pytest.raises(BrokerError):
        async with asyncio.timeout(10):  # a clean error, within the broker's own timeouts
            await broker.ping()
    assert not back.is_set()
    await proxy.restore()
    async with asyncio.timeout(15):  # the reader retries with a back-off of at most 2 s
        await back.wait()
    await broker.ping()
    await broker.publish(channel, b"after")
    await _wait_for(received, 1)
    assert received == [b"after"]


def test_postgres_chunks_round_trip() -> None:
    payload = b"x" * 20_000
    messages = encode_messages(payload)
    assert len(messages) > 1 and all(len(m) < 8000 for m in messages)
    joined = Reassembler()
    results = [joined.feed(m) for m in messages]
    assert results[:-1] == [None] * (len(messages) - 1) and results[-1] == payload


def test_unknown_broker_url_is_refused() -> None:
    with pytest.raises(BrokerError):
        create_broker("nats://x")


async def test_concurrent_publishes_all_arrive(brokers: Callable[[], Broker]) -> None:
    """Publishes made at once (more than a Redis pool's connections; on PostgreSQL batched into
    few NOTIFY statements) all arrive, identical payloads and a chunked large one included.
    Concurrent publishes have no order of their own; sequential ones keep theirs (above)."""
    broker, listener = brokers(), brokers()
    await listener.start()
    channel = _channel()
    received = await _collect(listener, channel)
    await asyncio.sleep(0.1)
    sent = [b"same" if n % 10 == 0 else b"m%d" % n for n in range(120)]
    sent[57] = b"L" * 20_000  # several NOTIFY chunks
    await asyncio.gather(*(broker.publish(channel, payload) for payload in sent))
    await _wait_for(received, len(sent))
    await asyncio.sleep(0.1)
    assert sorted(received) == sorted(sent)


async def test_publish_many_keeps_order_with_the_publishes_around_it(brokers: Callable[[], Broker]) -> None:
    """Identical payloads and a chunked large one included, in another process and in this one."""
    broker, listener = brokers(), brokers()
    await listener.start()
    channel = _channel()
    here, there = await _collect(broker, channel), await _collect(listener, channel)
    await asyncio.sleep(0.1)
    many = [b"same", b"m1", b"same", b"L" * 20_000, *(b"m%d" % n for n in range(2, 250)), b"same"]
    await broker.publish(channel, b"first")
    await broker.publish_many(channel, many)
    await broker.publish_many(channel, [])
    await broker.publish(channel, b"last")
    expected = [b"first", *many, b"last"]
    for received in (here, there) if broker is not listener else (here,):
        await _wait_for(received, len(expected))
    await asyncio.sleep(0.1)
    assert here == expected
    if broker is not listener:
        assert there == expected


async def test_postgres_sends_a_burst_of_publishes_in_few_statements() -> None:
    broker = await _started(PG_URL)
    try:
        statements = 0

        class Counted:
            """The broker's NOTIFY connection, counting the statements sent on it."""

            def __init__(self, conn: Any) -> None:
                self.conn = conn

            def __getattr__(self, name: str) -> Any:
                return getattr(self.conn, name)

            async def execute(self, *args: Any, **kwargs: Any) -> Any:
                nonlocal statements
                statements += 1
                return await self.conn.execute(*args, **kwargs)

        broker._notify = Counted(broker._notify)  # type: ignore[attr-defined]
        channel = _channel()
        received = await _collect(broker, channel)
        await asyncio.gather(*(broker.publish(channel, b"m%d" % n) for n in range(100)))
        await _wait_for(received, 100)
        assert received == [b"m%d" % n for n in range(100)]
        assert 1 <= statements <= 3
        # one publish_many of 300 messages: two statements (200 messages each at most)
        statements = 0
        await broker.publish_many(channel, [b"n%d" % n for n in range(300)])
        await _wait_for(received, 400)
        assert received[100:] == [b"n%d" % n for n in range(300)]
        assert statements == 2
    finally:
        await broker.close()


async def test_a_closed_postgres_broker_fails_queued_publishes() -> None:
    broker = await _started(PG_URL)
    pending = [asyncio.create_task(broker.publish(_channel(), b"x")) for _ in range(5)]
    await broker.close()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(r is None or isinstance(r, BrokerError) for r in results)
    with pytest.raises(BrokerError):
        await broker.publish(_channel(), b"after close")


async def test_the_hub_broker_writes_a_publish_many_in_one_call(hub_url: str) -> None:
    """Every realtime event a worker commits goes to the embedded hub; the events queued together
    leave in one socket write, not one each."""
    publisher, listener = create_broker(hub_url), create_broker(hub_url)
    await publisher.start()
    await listener.start()
    try:
        channel = _channel()
        received = await _collect(listener, channel)
        await publisher.publish(channel, b"first")  # connects
        writer = publisher._client._writer  # type: ignore[attr-defined]
        writes: list[int] = []
        write = writer.write
        writer.write = lambda data: (writes.append(len(data)), write(data))[1]
        await publisher.publish_many(channel, [b"m%d" % n for n in range(50)])
        await publisher.publish_many(channel, [])
        await _wait_for(received, 51)
        assert received == [b"first", *(b"m%d" % n for n in range(50))]
        assert len(writes) == 1
    finally:
        await publisher.close()
        await listener.close()
