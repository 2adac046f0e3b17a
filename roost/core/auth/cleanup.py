"""Periodic removal of expired ``_otps``, ``_mfas`` and ``_authSessions`` rows."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from roost.core.auth.forms import system_info
from roost.core.auth.otp import cutoff
from roost.core.auth.sessions import delete_expired as delete_expired_sessions

if TYPE_CHECKING:
    from roost.core.app import App

log = logging.getLogger("roost.auth")
#: (system collection, the auth option block whose ``duration`` bounds its rows, its default)
_EXPIRING = (("_otps", "otp", 180), ("_mfas", "mfa", 600))
INTERVAL = 300.0


async def delete_expired(app: App) -> int:
    """Delete every expired OTP, MFA session and cookie session; returns the count."""
    from roost.core.records import delete_record

    removed = 0
    system = system_info(app, "cleanup")
    for name, option, default in _EXPIRING:
        target = app.collections.get(name)
        if target is None:
            continue
        for coll in [c for c in app.collections.all() if c.is_auth]:
            seconds = int((coll.options.get(option) or {}).get("duration") or default)
            rows = await app.db.fetch_all(
                f'SELECT "id" FROM "{name}" WHERE "collectionRef" = :c AND "created" <= :t',
                {"c": coll.id, "t": cutoff(seconds)},
            )
            for row in rows:
                await delete_record(app, target, str(row["id"]), system)
                removed += 1
    return removed + await delete_expired_sessions(app)


async def run_periodically(app: App, interval: float = INTERVAL) -> None:
    """The background task ``App.bootstrap`` starts; failures are logged, never fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await delete_expired(app)
        except Exception:
            log.exception("cleanup of expired OTPs and MFA sessions failed")
