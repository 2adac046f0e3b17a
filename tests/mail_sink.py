"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

Tests point Roost's (or the reference server's) ``smtp`` settings at it and then read the
actual messages: subject, recipients, HTML body, and the links and codes inside them.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

TOKEN_LINK = re.compile(r"/auth/confirm-[a-z-]+/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html", "plain"))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]

    def token(self) -> str:
        """The JWT inside the message's confirm link."""
        found = TOKEN_LINK.search(self.html)
        assert found, f"no confirm link in: {self.html}"
        return found.group(1)

    def links_to(self, action: str) -> bool:
        """Does the message link to ``/auth/<action>/``, e.g. ``confirm-verification``?"""
        return f"/auth/{action}/" in self.html

    def code(self, digits: int = 8) -> str:
        """The first run of ``digits`` digits in the body (an OTP)."""
        found = re.search(rf"(?<![0-9])([0-9]{{{digits}}})(?![0-9])", self.text or self.html)
        assert found, f"no {digits}-digit code in: {self.html}"
        return found.group(1)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.sink.add(ReceivedMail(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], parsed))
        return "250 Message accepted for delivery"


class MailSink:
    """Starts on a free loopback port; ``messages`` fills as mail arrives."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.messages: list[ReceivedMail] = []
        self._cond = threading.Condition()
        #: (mechanism, login) of every successful SMTP AUTH
        self.logins: list[tuple[str, str]] = []
        self.controller = Controller(
            _Handler(self), hostname=host, port=port or _free_port(),
            authenticator=self._authenticate, auth_require_tls=False,
        )  # fmt: skip

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(data, LoginPassword):
            self.logins.append((mechanism, data.login.decode()))
        return AuthResult(success=True)

    @property
    def host(self) -> str:
        return str(self.controller.hostname)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def smtp_settings(self) -> dict[str, Any]:
        """The ``smtp`` block of a settings PATCH that points at this sink."""
        return {"enabled": True, "host": self.host, "port": self.port, "username": "", "password": "", "tls": False}

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def add(self, mail: ReceivedMail) -> None:
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()

    def to(self, address: str) -> list[ReceivedMail]:
        with self._cond:
            return [m for m in self.messages if address in m.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until ``address`` has received ``count`` messages; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for m in self.messages if address in m.recipients]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                assert left > 0, f"{address} got {len(got)} of {count} messages; all: {[m.recipients for m in self.messages]}"
                self._cond.wait(left)

    def last(self, address: str, timeout: float = 10.0) -> ReceivedMail:
        return self.wait_for(address, 1, timeout)[-1]

    async def receive(self, address: str, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Like :meth:`wait_for`, without blocking an event loop that is itself sending."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            got = self.to(address)
            if len(got) >= count:
                return got
            assert time.monotonic() < deadline, f"{address} got {len(got)} of {count} messages"
            await asyncio.sleep(0.02)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
