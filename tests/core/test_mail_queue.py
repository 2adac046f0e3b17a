"""The background mail queue: never blocks, retries, gives up loudly; settings secrets at rest."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from roost.core.mail import MailQueue
from roost.tools.mailer import Address, MailError, MemoryMailer, Message


def message(n: int = 0) -> Message:
    return Message(Address("from@example.com"), [Address("to@example.com")], f"m{n}", "<p>x</p>")


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[Message] = []

    async def send(self, msg: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise MailError("temporary")
        self.sent.append(msg)


async def test_queue_retries_then_delivers() -> None:
    mailer = Flaky(failures=2)
    queue = MailQueue(lambda: mailer, backoff=0.001)
    queue.start()
    assert queue.enqueue(message())
    await queue.join()
    assert [m.subject for m in mailer.sent] == ["m0"] and queue.failed == 0
    await queue.stop()


async def test_queue_gives_up_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    queue = MailQueue(lambda: Flaky(failures=99), attempts=2, backoff=0.001)
    queue.start()
    with caplog.at_level(logging.ERROR, logger="roost.mail"):
        queue.enqueue(message())
        await queue.join()
    assert queue.failed == 1 and "giving up" in caplog.text
    await queue.stop()


async def test_full_queue_drops_instead_of_blocking() -> None:
    mailer = MemoryMailer()
    queue = MailQueue(lambda: mailer, maxsize=2)
    assert [queue.enqueue(message(n)) for n in range(3)] == [True, True, False]
    queue.start()
    await queue.stop()  # drains what was queued
    assert [m.subject for m in mailer.outbox] == ["m0", "m1"]


async def test_send_now_without_a_mailer_fails() -> None:
    with pytest.raises(MailError):
        await MailQueue(lambda: None).send_now(message())


async def test_settings_secrets_are_encrypted_at_rest(tmp_path: Path) -> None:
    from roost.config import Config
    from roost.core.app import App

    app = App(Config(data_dir=tmp_path, encryption_key="correct horse"))
    await app.bootstrap()
    try:
        await app.settings.update({"smtp": {"password": "hunter2-smtp"}})
        raw = await app.db.fetch_value('SELECT "value" FROM "_params" WHERE "id" = :i', {"i": "settings"})
        assert "hunter2-smtp" not in str(raw) and "enc:v1:" in str(raw)
        assert "password" not in app.settings.public()["smtp"]
        await app.settings.load()
        assert app.settings.data["smtp"]["password"] == "hunter2-smtp"
    finally:
        await app.close()
