"""Removal of expired ``_otps``, ``_mfas`` and ``_authSessions`` rows, run as system cron jobs.

A row is already refused once expired; these jobs only keep the tables small. The OTP and MFA
jobs keep PocketBase's ids and hourly schedule, so a hook that replaces or removes them by id
works the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.core.auth.forms import cutoff
from roost.core.auth.sessions import delete_expired as delete_expired_sessions
from roost.core.records.save import delete_by_id

if TYPE_CHECKING:
    from roost.core.base import App

#: (system collection, the auth option block whose ``duration`` bounds its rows, its default)
_OTPS = ("_otps", "otp", 180)
_MFAS = ("_mfas", "mfa", 600)
HOURLY = "0 * * * *"


def register(app: App) -> None:
    """Add the cleanup cron jobs to ``app.cron``."""

    async def otps() -> None:
        await _delete_expired_rows(app, *_OTPS)

    async def mfas() -> None:
        await _delete_expired_rows(app, *_MFAS)

    async def sessions() -> None:
        await delete_expired_sessions(app)

    app.cron.add("__pbOTPCleanup__", HOURLY, otps)
    app.cron.add("__pbMFACleanup__", HOURLY, mfas)
    app.cron.add("__pbAuthSessionsCleanup__", HOURLY, sessions)


async def delete_expired(app: App) -> int:
    """Delete every expired OTP, MFA session and cookie session; returns the count."""
    removed = 0
    for expiring in (_OTPS, _MFAS):
        removed += await _delete_expired_rows(app, *expiring)
    return removed + await delete_expired_sessions(app)


async def _delete_expired_rows(app: App, name: str, option: str, default: int) -> int:
    target = app.collections.get(name)
    if target is None:
        return 0
    removed = 0
    for coll in [c for c in app.collections.all() if c.is_auth]:
        seconds = int((coll.options.get(option) or {}).get("duration") or default)
        rows = await app.db.fetch_all(
            f'SELECT "id" FROM "{name}" WHERE "collectionRef" = :c AND "created" <= :t',
            {"c": coll.id, "t": cutoff(seconds)},
        )
        for row in rows:
            await delete_by_id(app, target, str(row["id"]))
            removed += 1
    return removed
