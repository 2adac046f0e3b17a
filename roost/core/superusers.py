"""Superuser management for the CLI, through the normal record pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.core import records
from roost.core.errors import BadRequest
from roost.core.events import RequestInfo

if TYPE_CHECKING:
    from roost.core.app import App


async def manage_superuser(app: App, action: str, email: str, password: str) -> str:
    coll = app.collections.get("_superusers")
    assert coll is not None
    info = RequestInfo(auth={"id": "__cli__"}, auth_collection=coll, context="cli")
    row = await app.db.fetch_one('SELECT "id" FROM "_superusers" WHERE LOWER("email") = LOWER(:e)', {"e": email})
    if action == "delete":
        if row is None:
            return f"No superuser with email {email}."
        await records.delete_record(app, coll, row["id"], info)
        return f"Deleted superuser {email}."
    if action == "create" and row is not None:
        raise BadRequest(f"A superuser with email {email} already exists.")
    if action == "update" and row is None:
        raise BadRequest(f"No superuser with email {email}.")
    body = {"email": email, "password": password, "passwordConfirm": password, "verified": True}
    if row is None:
        await records.create_record(app, coll, body, info)
        return f"Created superuser {email}."
    await records.update_record(app, coll, row["id"], body, info)
    return f"Updated superuser {email}."
