"""The embedded hub's wire format and server, through real Unix sockets."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.tools.broker import BrokerError, create_broker
from roost.tools.hub import Hub, HubClient, HubError, HubThread
from roost.tools.hub import protocol as p
from roost.tools.store import create_store


def test_frames_round_trip_binary_and_empty_fields() -> None:
    fields = [b"", b"\x00\xff" * 1000, "é".encode()]
    frame = p.encode(p.SET, 7, *fields)
    assert p.decode(frame[4:]) == (p.SET, 7, fields)
    assert p.decode(p.encode(p.PING, 1)[4:]) == (p.PING, 1, [])


@pytest.mark.parametrize(
    "body", [b"\x01", p.encode(p.GET, 1, b"key")[4:-1], b"\x0a\x00\x00\x00\x01\x00\x00"]
)
def test_truncated_frames_are_refused(body: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode(body)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    server = Hub()
    path = str(tmp_path / "hub.sock")
    await server.start(path)
    yield server, path
    await server.close()


def test_the_socket_is_private_to_its_user() -> None:
    thread = HubThread()
    thread.start()
    try:
        assert stat.S_IMODE(os.stat(thread.directory).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(thread.path).st_mode) == 0o600
    finally:
        thread.stop()
    assert not os.path.exists(thread.directory)


async def test_increments_from_many_connections_are_exact(hub: tuple[Hub, str]) -> None:
    stores = [create_store("hub://" + hub[1]) for _ in range(4)]
    counts = await asyncio.gather(*(s.incr("n", 60) for s in stores for _ in range(50)))
    assert sorted(counts) == list(range(1, 201))
    assert await stores[0].get("n") == "200"


async def test_a_bad_request_is_an_error_not_a_lost_connection(hub: tuple[Hub, str]) -> None:
    client = HubClient("hub://" + hub[1])
    with pytest.raises(HubError, match="bad request"):
        await client.request(p.INCR, b"key", b"not a number", b"1")
    with pytest.raises(HubError, match="unknown operation"):
        await client.request(99)
    assert await client.request(p.PING) == []
    await client.close()


async def test_an_oversized_frame_closes_only_that_connection(hub: tuple[Hub, str]) -> None:
    reader, writer = await asyncio.open_unix_connection(hub[1])
    assert (await p.read_frame(reader))[0] == p.HELLO  # every connection's first frame
    writer.write((p.MAX_FRAME + 1).to_bytes(4, "big"))
    assert await reader.read() == b""
    writer.close()
    client = HubClient("hub://" + hub[1])
    assert await client.request(p.PING) == []
    await client.close()


async def test_an_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    broker = create_broker(f"hub://{tmp_path}/missing.sock")
    with pytest.raises(BrokerError, match="cannot reach the hub"):
        await broker.start()
    with pytest.raises(HubError, match="not a hub URL"):
        HubClient("redis://x")


async def test_a_broker_resubscribes_and_reports_when_the_hub_comes_back(tmp_path: Path) -> None:
    path = str(tmp_path / "hub.sock")
    first = Hub()
    await first.start(path)
    broker = create_broker("hub://" + path)
    await broker.start()
    received: list[bytes] = []
    reconnected = asyncio.Event()

    async def on_message(payload: bytes) -> None:
        received.append(payload)

    async def on_reconnect() -> None:
        reconnected.set()

    await broker.subscribe("c", on_message)
    broker.on_reconnect(on_reconnect)
    await first.close()
    with pytest.raises(BrokerError):
        await broker.ping()
    second = Hub()
    await second.start(path)
    async with asyncio.timeout(10):
        await reconnected.wait()
    await broker.ping()
    await broker.publish("c", b"after")
    async with asyncio.timeout(5):
        while received != [b"after"]:
            await asyncio.sleep(0.01)
    await broker.close()
    await second.close()


async def test_keys_expire_and_report_their_remaining_time(hub: tuple[Hub, str]) -> None:
    client = HubClient("hub://" + hub[1])
    await client.request(p.SET, b"k", b"v", b"0.2")
    remaining = float((await client.request(p.EXPIRY, b"k"))[0])
    assert 0 < remaining <= 0.2
    await asyncio.sleep(0.3)
    assert await client.request(p.GET, b"k") == []
    assert await client.request(p.EXPIRY, b"k") == [b"0.0"]
    await client.close()


def test_a_killed_hubs_directory_is_removed_by_the_next_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from roost.tools.hub import server

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / "roost-hub-dead"
    dead.mkdir()
    (dead / "hub.sock").write_text("")  # a socket file nobody listens on any more
    (dead / p.COUNTERS_FILE).write_bytes(bytes(p.COUNTER_PAGE_BYTES))  # and its counter page
    os.utime(dead, (0, 0))
    live = HubThread()
    live.start()
    os.utime(live.directory, (0, 0))
    server.remove_stale_hubs()
    assert not dead.exists() and os.path.exists(live.path)
    assert live.counters.stat().st_size == p.COUNTER_PAGE_BYTES
    live.stop()
    assert not os.path.exists(live.directory)  # the socket and the page go with it


async def test_a_batch_of_publishes_reaches_each_subscriber_in_one_write_and_before_a_reply(
    hub: tuple[Hub, str],
) -> None:
    """A worker's queued realtime events arrive at the hub in one write; the hub hands them on
    in one write per subscriber, and a subscriber's own request is answered only after what was
    published before it."""
    server, path = hub
    subscriber = create_broker("hub://" + path)
    await subscriber.start()
    publisher = HubClient("hub://" + path)
    try:
        received: list[bytes] = []

        async def on_message(payload: bytes) -> None:
            received.append(payload)

        await subscriber.subscribe("events", on_message)
        (held,) = server._subscribers["events"]
        writes: list[bytes] = []
        write = held.write
        held.write = lambda data: (writes.append(data), write(data))[1]  # type: ignore[method-assign]
        await publisher.send_many([p.encode(p.PUBLISH, 0, b"events", b"e%d" % n) for n in range(40)])
        for _ in range(100):
            if len(received) == 40:
                break
            await asyncio.sleep(0.02)
        assert received == [b"e%d" % n for n in range(40)]
        assert len(writes) == 1
        # the subscriber's connection publishes and asks in one write: the messages come first
        client = subscriber._client  # type: ignore[attr-defined]
        writes.clear()
        client._writer.write(p.encode(p.PUBLISH, 0, b"events", b"late") + p.encode(p.PING, 99))
        for _ in range(100):
            if len(writes) == 2:
                break
            await asyncio.sleep(0.02)
        assert [p.decode(frame[4:])[0] for frame in writes] == [p.MESSAGE, p.REPLY]
    finally:
        await publisher.close()
        await subscriber.close()


async def test_a_subscription_is_answered_once_every_other_connection_knows_of_it(hub: tuple[Hub, str]) -> None:
    """A worker skips publishing to a channel nobody else listens on, so a new listener's
    subscription must not complete while another connection may still think it has no audience."""
    url = "hub://" + hub[1]
    publisher, listener = HubClient(url), HubClient(url)
    await publisher.request(p.PING)
    assert publisher.audience("events") == 0
    reader, writer = await asyncio.open_unix_connection(hub[1])  # a connection that is slow to read
    assert (await p.read_frame(reader))[0] == p.HELLO
    subscribing = asyncio.create_task(listener.subscribe("events"))
    op, token, fields = await asyncio.wait_for(p.read_frame(reader), 5)
    assert (op, fields) == (p.AUDIENCE, [b"events", b"1"]) and token
    await asyncio.sleep(0.1)
    assert not subscribing.done()  # the slow connection has not acknowledged yet
    assert publisher.audience("events") == 1  # the client acknowledged as it read the frame
    writer.write(p.encode(p.ACK, token))
    await asyncio.wait_for(subscribing, 5)
    assert listener.audience("events") == 0  # itself not counted
    second = HubClient(url)
    await second.request(p.PING)
    assert second.audience("events") == 1  # told on connecting
    await listener.unsubscribe("events")
    await publisher.request(p.PING)  # the audience frame was sent before this reply
    assert publisher.audience("events") == 0
    writer.close()
    for client in (publisher, listener, second):
        await client.close()


async def test_a_connection_that_goes_away_does_not_hold_a_subscription(hub: tuple[Hub, str]) -> None:
    reader, writer = await asyncio.open_unix_connection(hub[1])
    await p.read_frame(reader)
    listener = HubClient("hub://" + hub[1])
    subscribing = asyncio.create_task(listener.subscribe("events"))
    await asyncio.wait_for(p.read_frame(reader), 5)
    writer.close()
    await asyncio.wait_for(subscribing, 5)
    await listener.close()


async def test_a_repeated_subscription_is_answered_with_the_first(hub: tuple[Hub, str]) -> None:
    slow_reader, slow = await asyncio.open_unix_connection(hub[1])
    reader, writer = await asyncio.open_unix_connection(hub[1])
    for r in (slow_reader, reader):
        assert (await p.read_frame(r))[0] == p.HELLO
    writer.write(p.encode(p.SUBSCRIBE, 1, b"events") + p.encode(p.SUBSCRIBE, 2, b"events"))
    op, token, _ = await asyncio.wait_for(p.read_frame(slow_reader), 5)
    assert op == p.AUDIENCE
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(p.read_frame(reader), 0.2)
    slow.write(p.encode(p.ACK, token))
    replies = [await asyncio.wait_for(p.read_frame(reader), 5) for _ in range(2)]
    assert replies == [(p.REPLY, 1, []), (p.REPLY, 2, [])]
    for w in (slow, writer):
        w.close()
