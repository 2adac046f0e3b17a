"""System alerts: a short e-mail to every superuser when something they did not ask for failed
(an automatic backup), through the app's mail queue and its current mailer."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

from roost.tools.mailer import Address, Message

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.backups")


async def alert_superusers(app: App, subject: str, details: str) -> int:
    """Queue the alert for every superuser; returns how many were queued (0 without a mailer)."""
    if app.mail.resolve() is None:
        return 0
    settings = app.settings.data
    meta = settings.get("meta") or {}
    app_name = str(meta.get("appName") or "Roost")
    rows = await app.db.fetch_all(f"SELECT {app.db.quote('email')} AS email FROM {app.db.quote('_superusers')}")
    body = (f"<p>Hello,</p><p>{html.escape(app_name)} reports a problem that needs your attention:</p>"
            f"<pre>{html.escape(details)}</pre><p>This is an automatic message.</p>")  # fmt: skip
    sender = Address(str(meta.get("senderAddress") or ""), str(meta.get("senderName") or ""))
    queued = 0
    for row in rows:
        message = Message(sender=sender, to=[Address(str(row["email"]))], subject=f"[{app_name} system alert] {subject}", html=body)
        queued += app.mail.enqueue(message)
    if queued < len(rows):
        log.warning("system alert %r: %d of %d superusers could not be mailed", subject, len(rows) - queued, len(rows))
    return queued
