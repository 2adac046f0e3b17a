"""A mailer that keeps messages in a list: for development and unit tests."""

from __future__ import annotations

from roost.tools.mailer.base import Message


class MemoryMailer:
    """Stores every message in :attr:`outbox`, newest last."""

    def __init__(self) -> None:
        self.outbox: list[Message] = []

    async def send(self, message: Message) -> None:
        self.outbox.append(message)
