"""The message shape and the protocol every mailer implements."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.headerregistry import Address as _HeaderAddress
from email.message import EmailMessage
from typing import Protocol, runtime_checkable


class MailError(Exception):
    """Sending failed (connection, authentication or a refused recipient)."""


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""

    def header(self) -> str:
        if not self.name:
            return self.email
        username, _, domain = self.email.rpartition("@")
        return str(_HeaderAddress(display_name=self.name, username=username, domain=domain))


@dataclass
class Message:
    """An HTML e-mail; ``text`` defaults to a plain rendering of ``html``."""

    sender: Address
    to: list[Address]
    subject: str
    html: str
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def plain_text(self) -> str:
        return self.text or html_to_text(self.html)

    def to_email(self) -> EmailMessage:
        """The MIME message: a text part and an HTML alternative."""
        msg = EmailMessage()
        msg["From"] = self.sender.header()
        msg["To"] = ", ".join(a.header() for a in self.to)
        msg["Subject"] = self.subject
        for key, value in self.headers.items():
            msg[key] = value
        msg.set_content(self.plain_text())
        msg.add_alternative(self.html, subtype="html")
        return msg


_BLOCK_END = re.compile(r"(?i)</(p|div|h[1-6]|li|tr)>|<br\s*/?>")
_TAGS = re.compile(r"(?s)<(style|script)[^>]*>.*?</\1>|<[^>]+>")


def html_to_text(markup: str) -> str:
    """A readable plain-text version of simple HTML mail bodies."""
    text = _BLOCK_END.sub("\n", markup)
    text = re.sub(r'(?i)<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', r"\2 (\1)", text)
    text = html.unescape(_TAGS.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


@runtime_checkable
class Mailer(Protocol):
    """Anything that can deliver a :class:`Message` (raises :class:`MailError` on failure)."""

    async def send(self, message: Message) -> None: ...
