"""The mailer and key-value store tools, against a real SMTP server where one is needed."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from roost.tools.mailer import Address, MailError, MemoryMailer, Message, SmtpConfig, SmtpMailer
from roost.tools.store import MemoryStore, Store
from tests.conftest import skip_or_fail


def message(to: str = "to@example.com") -> Message:
    return Message(Address("from@example.com", "Roost Team"), [Address(to)], "Hello", '<p>Hi &amp; <a href="http://x.test/a">go</a></p>')


async def test_smtp_mailer_delivers_html_and_text(mail_sink: Any) -> None:
    await SmtpMailer(SmtpConfig(host=mail_sink.host, port=mail_sink.port)).send(message())
    mail = (await mail_sink.receive("to@example.com"))[0]
    assert mail.message["From"] == "Roost Team <from@example.com>"
    assert mail.subject == "Hello"
    assert "<a href" in mail.html
    assert mail.text.strip() == "Hi & go (http://x.test/a)"


@pytest.mark.parametrize("method", ["", "PLAIN", "LOGIN"])
async def test_smtp_mailer_authenticates(mail_sink: Any, method: str) -> None:
    cfg = SmtpConfig(host=mail_sink.host, port=mail_sink.port, username="roost", password="pw", auth_method=method)
    await SmtpMailer(cfg).send(message())
    assert mail_sink.logins[-1][1] == "roost"
    if method:
        assert mail_sink.logins[-1][0] == method


async def test_smtp_mailer_wraps_connection_errors() -> None:
    from tests.mail_sink import _free_port

    with pytest.raises(MailError):
        await SmtpMailer(SmtpConfig(host="127.0.0.1", port=_free_port(), timeout=2)).send(message())


async def test_memory_mailer_keeps_messages() -> None:
    mailer = MemoryMailer()
    await mailer.send(message())
    assert [m.subject for m in mailer.outbox] == ["Hello"]


REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis", "hub"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The same contract for every store; Redis skips (or fails when required) if unreachable."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "hub":
        from roost.tools.store.hub import HubStore

        hub_store = HubStore(request.getfixturevalue("hub_url"), prefix=f"test:{secrets.token_hex(6)}:")
        yield hub_store
        await hub_store.close()
        return
    from redis.asyncio import Redis

    from roost.tools.store.redis import RedisStore

    probe = Redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except Exception as exc:  # any connection failure means Redis is not here
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        await probe.aclose()
    redis_store = RedisStore(REDIS_URL, prefix=f"roost:test:{secrets.token_hex(6)}:")
    yield redis_store
    await redis_store.close()


async def test_store_values_expire(store: Store) -> None:
    await store.set("a", "1", ttl=0.05)
    await store.set("b", "2")
    assert await store.get("a") == "1" and await store.has("b")
    await asyncio.sleep(0.08)
    assert await store.get("a") is None and not await store.has("a")
    await store.delete("b")
    assert await store.get("b") is None


async def test_store_counters_use_a_fixed_window(store: Store) -> None:
    assert [await store.incr("n", 0.05) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(0.08)
    assert await store.incr("n", 0.05) == 1
