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
from roost.core.errors import RoostError
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.records.save import delete_by_id, save_changes, save_new
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import now_string

if TYPE_CHECKING:
    from roost.core.base import App

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
    origins_coll = app.collections.get(ORIGINS)
    assert origins_coll is not None
    print_, agent = fingerprint(info)
    rows = await app.db.fetch_all(
        'SELECT "id", "fingerprint" FROM "_authOrigins" WHERE "collectionRef" = :c AND "recordRef" = :r '
        'ORDER BY "updated" DESC, "id" DESC',
        {"c": coll.id, "r": record["id"]},
    )
    current = next((row for row in rows if row["fingerprint"] == print_), None)
    if current is not None:
        await save_changes(app, origins_coll, str(current["id"]), {})  # bumps "updated"
        return
    if rows and record.get("email"):
        alert = f"{now_string()} - {info.ip} {agent}"
        await emails.send(app, coll, "login-alert", record, emails.login_alert(app, coll, record, alert))
    for stale in rows[MAX_ORIGINS - 1 :]:
        await delete_by_id(app, origins_coll, str(stale["id"]))
    body = {"collectionRef": coll.id, "recordRef": record["id"], "fingerprint": print_}
    await save_new(app, origins_coll, body)
