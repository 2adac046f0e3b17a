"""Superuser management for the CLI, at the model level: no request, no rules, hooks fire."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from roost.core.errors import BadRequest
from roost.core.records import save

if TYPE_CHECKING:
    from roost.core.base import App


async def manage_superuser(app: App, action: str, email: str, password: str) -> str:
    coll = app.collections.get("_superusers")
    assert coll is not None
    row = await app.db.fetch_one('SELECT "id" FROM "_superusers" WHERE LOWER("email") = LOWER(:e)', {"e": email})
    if action == "delete":
        if row is None:
            return f"No superuser with email {email}."
        await save.delete_by_id(app, coll, row["id"])
        return f"Deleted superuser {email}."
    if action == "create" and row is not None:
        raise BadRequest(f"A superuser with email {email} already exists.")
    if action == "update" and row is None:
        raise BadRequest(f"No superuser with email {email}.")
    values = {"email": email, "password": password, "verified": True}
    if row is None:
        await save.save_new(app, coll, values)
        return f"Created superuser {email}."
    await save.save_changes(app, coll, row["id"], values)
    return f"Updated superuser {email}."


async def create_superuser_otp(app: App, email: str) -> tuple[str, str, int]:
    """A fresh one-time password for the superuser ``email``, stored (hashed) but not mailed:
    the CLI prints it, for an operator locked out of the dashboard.

    Returns:
        The OTP id, the password and how many seconds it stays valid.
    """
    coll = app.collections.get("_superusers")
    otps = app.collections.get("_otps")
    assert coll is not None and otps is not None
    options = dict(coll.options.get("otp") or {})
    if not options.get("enabled"):
        raise BadRequest("OTP sign-in is not enabled for superusers: enable it in the _superusers collection's options first.")
    row = await app.db.fetch_one('SELECT "id" FROM "_superusers" WHERE LOWER("email") = LOWER(:e)', {"e": email})
    if row is None:
        raise BadRequest(f"No superuser with email {email}.")
    password = "".join(secrets.choice("0123456789") for _ in range(int(options.get("length") or 8)))
    otp = await save.save_new(app, otps, {"collectionRef": coll.id, "recordRef": row["id"], "password": password, "sentTo": ""})
    return str(otp["id"]), password, int(options.get("duration") or 180)
