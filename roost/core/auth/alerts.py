"""Login alerts: remember where each record signs in from (``_authOrigins``) and mail the
owner when a new place shows up.

A place is the MD5 of the client IP and User-Agent. The first login of a record is never
alerted (there is nothing to compare with), and at most five places are kept per record.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from roost.core.auth import emails
from roost.core.auth.forms import system_info
from roost.core.collections import Collection
from roost.core.errors import RoostError
from roost.core.events import RequestInfo
from roost.core.fields.date import now_string
from roost.core.record_io import Record

if TYPE_CHECKING:
    from roost.core.app import App

ORIGINS = "_authOrigins"
MAX_ORIGINS = 5
MAX_USER_AGENT = 300
log = logging.getLogger("roost.auth")


def fingerprint(info: RequestInfo) -> tuple[str, str]:
    """(fingerprint, user agent) of the caller."""
    agent = info.headers.get("user_agent", "")[:MAX_USER_AGENT]
    return hashlib.md5((info.ip + agent).encode(), usedforsecurity=False).hexdigest(), agent


async def track_origin(app: App, coll: Collection, record: Record, info: RequestInfo) -> None:
    """When the collection has login alerts on, record this login's origin and alert by mail
    when it is new for a record seen before. A failure here never fails the login."""
    if not (coll.options.get("authAlert") or {}).get("enabled"):
        return
    try:
        await _track(app, coll, record, info)
    except RoostError:
        log.warning("could not record the login origin of %s", record.get("id"), exc_info=True)


async def _track(app: App, coll: Collection, record: Record, info: RequestInfo) -> None:
    from roost.core.records import create_record, delete_record, update_record

    origins_coll = app.collections.get(ORIGINS)
    assert origins_coll is not None
    system = system_info(app, "authAlert")
    print_, agent = fingerprint(info)
    rows = await app.db.fetch_all(
        'SELECT "id", "fingerprint" FROM "_authOrigins" WHERE "collectionRef" = :c AND "recordRef" = :r '
        'ORDER BY "updated" DESC, "id" DESC',
        {"c": coll.id, "r": record["id"]},
    )
    current = next((row for row in rows if row["fingerprint"] == print_), None)
    if current is not None:
        await update_record(app, origins_coll, str(current["id"]), {}, system)  # bumps "updated"
        return
    if rows and record.get("email"):
        alert = f"{now_string()} - {info.ip} {agent}"
        app.mail.enqueue(emails.login_alert(app, coll, record, alert))
    for stale in rows[MAX_ORIGINS - 1 :]:
        await delete_record(app, origins_coll, str(stale["id"]), system)
    body = {"collectionRef": coll.id, "recordRef": record["id"], "fingerprint": print_}
    await create_record(app, origins_coll, body, system)
