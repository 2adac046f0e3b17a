"""Multi-factor authentication: a first successful factor opens a ``_mfas`` session, a
different second factor closes it.

The challenge is :class:`MFARequired`; the HTTP layer renders it as 401 ``{"mfaId": "..."}``
(the body the SDKs look for, with no error envelope around it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.auth.forms import expired
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.records.access import rule_matches_stored
from roost.core.records.codec import Record
from roost.core.records.save import delete_by_id, fetch_record, save_new
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

MFAS = "_mfas"


class MFARequired(RoostError):
    """The first factor succeeded; the client must authenticate again with another method."""

    kind = "mfa_required"
    default_message = "Multi-factor authentication is required."

    def __init__(self, mfa_id: str) -> None:
        super().__init__(data={"mfaId": mfa_id})
        self.mfa_id = mfa_id


async def _wants_mfa(app: App, coll: Collection, record: Record, info: RequestInfo, rule: str) -> bool:
    if not rule:
        return True
    try:
        return await rule_matches_stored(app, coll, record["id"], rule, info)
    except RoostError as exc:
        # a broken rule must never let the first factor through on its own
        raise BadRequest("Failed to authenticate.") from exc


async def check_mfa(app: App, coll: Collection, record: Record, info: RequestInfo, method: str, body: dict[str, Any]) -> None:
    """Raise :class:`MFARequired` on a first factor, or accept (and close) a second one."""
    opts = coll.options.get("mfa") or {}
    if not opts.get("enabled") or not method or not await _wants_mfa(app, coll, record, info, str(opts.get("rule") or "")):
        return
    mfas = app.collections.get(MFAS)
    assert mfas is not None
    mfa_id = info.query.get("mfaId") or body.get("mfaId") or ""
    if not isinstance(mfa_id, str):
        raise BadRequest("Failed to read MFA Id.")
    if not mfa_id:
        opened = await save_new(app, mfas, {"collectionRef": coll.id, "recordRef": record["id"], "method": method})
        raise MFARequired(str(opened["id"]))
    row = await fetch_record(app, mfas, mfa_id)
    if row is None or expired(row, int(opts.get("duration") or 600)):
        if row is not None:
            await delete_by_id(app, mfas, mfa_id)
        raise BadRequest("Invalid or expired MFA session.")
    if row.get("recordRef") != record["id"] or row.get("collectionRef") != coll.id:
        raise BadRequest("Invalid MFA session.")
    if row.get("method") == method:
        raise BadRequest("A different authentication method is required.")
    await delete_by_id(app, mfas, mfa_id)


async def record_of_mfa(app: App, coll: Collection, mfa_id: str) -> Record:
    """The record an open MFA session of ``coll`` belongs to (400 if there is none)."""
    opts = coll.options.get("mfa") or {}
    mfas = app.collections.get(MFAS)
    row = await fetch_record(app, mfas, mfa_id) if mfas is not None and opts.get("enabled") else None
    if row is None or row.get("collectionRef") != coll.id or expired(row, int(opts.get("duration") or 600)):
        raise BadRequest("Invalid or expired MFA session.")
    record = await fetch_record(app, coll, str(row.get("recordRef", "")))
    if record is None:
        raise BadRequest("Invalid or expired MFA session.")
    return record


