"""Outgoing mail: a bounded background queue so that no request waits for SMTP.

Core sends through ``roost.core.auth.emails.send_mail``, which fires ``on_mailer_send`` and then
hands the message to :meth:`MailQueue.enqueue`, which never blocks. A worker task delivers
them through the current mailer (an explicitly set one, or SMTP built from the ``smtp``
settings), retrying transient failures with backoff and logging what finally fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from roost.tools.mailer import Address, Mailer, MailError, Message, SmtpConfig, SmtpMailer
from roost.tools.metrics import Metrics, NullMetrics

log = logging.getLogger("roost.mail")


def smtp_mailer(settings: dict[str, Any]) -> SmtpMailer | None:
    """An SMTP mailer for the ``smtp`` settings block, or None when SMTP is disabled."""
    smtp = settings.get("smtp") or {}
    if not smtp.get("enabled") or not smtp.get("host"):
        return None
    return SmtpMailer(
        SmtpConfig(
            host=str(smtp["host"]),
            port=int(smtp.get("port") or 587),
            username=str(smtp.get("username") or ""),
            password=str(smtp.get("password") or ""),
            auth_method=str(smtp.get("authMethod") or ""),
            tls=bool(smtp.get("tls")),
            local_name=str(smtp.get("localName") or ""),
        )
    )


def sender_of(settings: dict[str, Any]) -> Address:
    meta = settings.get("meta") or {}
    return Address(str(meta.get("senderAddress") or ""), str(meta.get("senderName") or ""))


class MailQueue:
    """A bounded queue drained by one worker; ``resolve`` picks the mailer at send time
    (so settings changes apply to messages already queued)."""

    def __init__(
        self,
        resolve: Callable[[], Mailer | None],
        *,
        maxsize: int = 1000,
        attempts: int = 3,
        backoff: float = 0.5,
        metrics: Metrics | None = None,
    ) -> None:
        self.resolve = resolve
        self.metrics = metrics or NullMetrics()
        self.attempts = attempts
        self.backoff = backoff
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=maxsize)
        self._worker: asyncio.Task[None] | None = None
        #: messages given up on (after every retry), for health checks and tests
        self.failed = 0

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    def start(self) -> None:
        if not self.running:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="roost-mail")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``drain_timeout`` seconds), then stop the worker."""
        if self._worker is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    def enqueue(self, message: Message) -> bool:
        """Queue ``message``; False (and a warning) when the queue is full."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("mail queue full; dropped %r to %s", message.subject, _recipients(message))
            self.metrics.mail_finished("dropped")
            return False
        self.metrics.mail_queued(self._queue.qsize())
        return True

    async def join(self) -> None:
        """Wait until every queued message has been delivered or given up on."""
        await self._queue.join()

    async def send_now(self, message: Message) -> None:
        """Deliver synchronously (the settings test e-mail); raises :class:`MailError`."""
        mailer = self.resolve()
        if mailer is None:
            raise MailError("no mailer is configured (enable SMTP in the settings)")
        await mailer.send(message)

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._deliver(message)
            except Exception:
                log.exception("unexpected error while sending mail")
            finally:
                self._queue.task_done()
                self.metrics.mail_queued(self._queue.qsize())

    async def _deliver(self, message: Message) -> None:
        for attempt in range(1, self.attempts + 1):
            mailer = self.resolve()
            if mailer is None:
                log.warning("SMTP is disabled; not sending %r to %s", message.subject, _recipients(message))
                return
            try:
                await mailer.send(message)
                self.metrics.mail_finished("sent")
                return
            except MailError as exc:
                if attempt == self.attempts:
                    self.failed += 1
                    self.metrics.mail_finished("failed")
                    log.error("giving up on mail %r to %s: %s", message.subject, _recipients(message), exc)
                    return
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))


def _recipients(message: Message) -> str:
    return ", ".join(a.email for a in message.to)
