"""Multi-factor authentication: a first successful factor opens a ``_mfas`` session, a
different second factor closes it.

The challenge is :class:`MFARequired`; the HTTP layer renders it as 401 ``{"mfaId": "..."}``
(the body the SDKs look for, with no error envelope around it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.auth.forms import system_info
from roost.core.collections import Collection
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.record_io import Record

if TYPE_CHECKING:
    from roost.core.app import App

MFAS = "_mfas"
#: the auth options that count as methods; MFA needs two of them
AUTH_METHOD_OPTIONS = ("passwordAuth", "oauth2", "otp", "totp", "passkey")


class MFARequired(RoostError):
    """The first factor succeeded; the client must authenticate again with another method."""

    kind = "mfa_required"
    default_message = "Multi-factor authentication is required."

    def __init__(self, mfa_id: str) -> None:
        super().__init__(data={"mfaId": mfa_id})
        self.mfa_id = mfa_id


def enabled_methods(options: dict[str, Any]) -> int:
    return sum(1 for key in AUTH_METHOD_OPTIONS if (options.get(key) or {}).get("enabled"))


async def _wants_mfa(app: App, coll: Collection, record: Record, info: RequestInfo, rule: str) -> bool:
    from roost.core.records import rule_matches_stored

    if not rule:
        return True
    try:
        return await rule_matches_stored(app, coll, record["id"], rule, info)
    except RoostError as exc:
        # a broken rule must never let the first factor through on its own
        raise BadRequest("Failed to authenticate.") from exc


async def check_mfa(app: App, coll: Collection, record: Record, info: RequestInfo, method: str, body: dict[str, Any]) -> None:
    """Raise :class:`MFARequired` on a first factor, or accept (and close) a second one."""
    from roost.core.auth.otp import expired
    from roost.core.records import create_record, delete_record, fetch_record

    opts = coll.options.get("mfa") or {}
    if not opts.get("enabled") or not method or not await _wants_mfa(app, coll, record, info, str(opts.get("rule") or "")):
        return
    mfas = app.collections.get(MFAS)
    assert mfas is not None
    system = system_info(app, "mfa")
    mfa_id = info.query.get("mfaId") or body.get("mfaId") or ""
    if not isinstance(mfa_id, str):
        raise BadRequest("Failed to read MFA Id.")
    if not mfa_id:
        opened = await create_record(app, mfas, {"collectionRef": coll.id, "recordRef": record["id"], "method": method}, system)
        raise MFARequired(str(opened["id"]))
    row = await fetch_record(app, mfas, mfa_id)
    if row is None or expired(row, int(opts.get("duration") or 600)):
        if row is not None:
            await delete_record(app, mfas, mfa_id, system)
        raise BadRequest("Invalid or expired MFA session.")
    if row.get("recordRef") != record["id"] or row.get("collectionRef") != coll.id:
        raise BadRequest("Invalid MFA session.")
    if row.get("method") == method:
        raise BadRequest("A different authentication method is required.")
    await delete_record(app, mfas, mfa_id, system)


async def record_of_mfa(app: App, coll: Collection, mfa_id: str) -> Record:
    """The record an open MFA session of ``coll`` belongs to (400 if there is none)."""
    from roost.core.auth.otp import expired
    from roost.core.records import fetch_record

    opts = coll.options.get("mfa") or {}
    mfas = app.collections.get(MFAS)
    row = await fetch_record(app, mfas, mfa_id) if mfas is not None and opts.get("enabled") else None
    if row is None or row.get("collectionRef") != coll.id or expired(row, int(opts.get("duration") or 600)):
        raise BadRequest("Invalid or expired MFA session.")
    record = await fetch_record(app, coll, str(row.get("recordRef", "")))
    if record is None:
        raise BadRequest("Invalid or expired MFA session.")
    return record


def option_errors(options: dict[str, Any]) -> dict[str, Any]:
    """Collection validation: MFA only makes sense with two methods to combine."""
    if (options.get("mfa") or {}).get("enabled") and enabled_methods(options) < 2:
        from roost.core.errors import FieldError

        return {"mfa": {"enabled": FieldError("validation_mfa_not_enough_auths", "MFA requires at least 2 auth methods to be enabled.")}}
    return {}
