"""First-run set-up: a short-lived superuser token while no real superuser exists.

``roost serve`` prints a dashboard link carrying the token. The dashboard's first-run page
creates the first real superuser through the public records API with it, signs in as that
superuser and deletes the placeholder, which revokes the token. Nothing is exposed without the
token: it exists only in the server's own output, and the placeholder's password is random and
never shown.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from roost.core.auth import tokens
from roost.core.records import save

if TYPE_CHECKING:
    from roost.core.base import App

#: the placeholder superuser behind the first-run link
INSTALLER_EMAIL = "__installer@roost.example.com"
#: how long the first-run link stays valid
INSTALLER_SECONDS = 3600


async def installer_token(app: App) -> str | None:
    """A first-run superuser token, or None once a real superuser exists.

    A placeholder left behind (the first superuser was made another way, say with ``roost
    superuser upsert``) is deleted then, so no unused superuser account lingers.
    """
    coll = app.collections.get("_superusers")
    assert coll is not None
    real = await app.db.fetch_one(
        'SELECT COUNT(*) AS "n" FROM "_superusers" WHERE LOWER("email") != :e', {"e": INSTALLER_EMAIL}
    )
    row = await app.db.fetch_one('SELECT "id" FROM "_superusers" WHERE LOWER("email") = :e', {"e": INSTALLER_EMAIL})
    if real is not None and int(real["n"]) > 0:
        if row is not None:
            await save.delete_by_id(app, coll, str(row["id"]))
        return None
    if row is None:
        values = {"email": INSTALLER_EMAIL, "password": secrets.token_urlsafe(32), "verified": True}
        record = await save.save_new(app, coll, values)
    else:
        found = await save.fetch_record(app, coll, str(row["id"]))
        assert found is not None
        record = found
    return tokens.issue(coll, record, duration=INSTALLER_SECONDS, refreshable=False)
