"""Sending e-mail: one ``Mailer`` protocol, an SMTP implementation and an in-memory one."""

from __future__ import annotations

from roost.tools.mailer.base import Address, Mailer, MailError, Message
from roost.tools.mailer.memory import MemoryMailer
from roost.tools.mailer.smtp import SmtpConfig, SmtpMailer

__all__ = ["Address", "MailError", "Mailer", "MemoryMailer", "Message", "SmtpConfig", "SmtpMailer"]
