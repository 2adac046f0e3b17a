"""SMTP delivery through aiosmtplib."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.tools.mailer.base import MailError, Message

if TYPE_CHECKING:  # loaded on the first message sent
    import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    """Connection settings, named as in the ``smtp`` settings block."""

    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    #: "" picks the best mechanism the server offers; "PLAIN" or "LOGIN" forces one
    auth_method: str = ""
    #: True = implicit TLS (usually port 465); False = STARTTLS when the server offers it
    tls: bool = False
    local_name: str = ""
    timeout: float = 30.0


class SmtpMailer:
    """Opens one connection per message; connection and protocol errors become :class:`MailError`."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: Message) -> None:
        import aiosmtplib

        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.tls,
            start_tls=None if not cfg.tls else False,
            local_hostname=cfg.local_name or None,
            timeout=cfg.timeout,
        )
        try:
            async with client:
                if cfg.username:
                    await self._login(client)
                await client.send_message(message.to_email())
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP delivery to {cfg.host}:{cfg.port} failed: {exc}") from exc

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        method = self.config.auth_method.upper()
        user, password = self.config.username, self.config.password
        if method == "PLAIN":
            await client.auth_plain(user, password)
        elif method == "LOGIN":
            await client.auth_login(user, password)
        else:
            await client.login(user, password)
