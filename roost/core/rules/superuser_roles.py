"""Superuser roles (a Roost addition): read-only superusers and superusers limited to collections.

Roles live in the ``superuserRoles`` option of the ``_superusers`` collection, keyed by superuser
id; a superuser without an entry keeps every PocketBase power::

    "superuserRoles": {
        "SUPERUSER_ID": {"readonly": true},
        "OTHER_ID": {"collections": ["posts", "comments"]}
    }

``readonly`` refuses every write (records, collections, settings and the other admin APIs).
``collections`` limits record access (REST, batch, GraphQL, expand, realtime) to the listed
collections, by name or id, and also refuses writes outside the records API, since collections
and settings concern everything. No I/O here: the option comes with the caller's auth collection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.core.errors import Forbidden
from roost.core.events import RequestInfo
from roost.core.schema.collection import Collection
from roost.core.schema.superuser_roles import OPTION, SUPERUSERS

if TYPE_CHECKING:
    from roost.core.base import App

READ_ONLY = "This superuser is read-only."
OUT_OF_SCOPE = "This superuser has no access to this collection."
#: writes a limited superuser still makes: its own session, subscriptions, and the two endpoints
#: whose record operations the record pipeline checks one by one
_ALWAYS_ALLOWED = re.compile(
    r"^/api/(collections/_superusers/auth-refresh|collections/_superusers/auth-with-\w+|realtime|graphql|batch)/?$"
)
_RECORDS_PATH = re.compile(r"^/api/collections/[^/]+/records(/|$)")
_WRITES = ("createRule", "updateRule", "deleteRule")


@dataclass(frozen=True)
class SuperuserRole:
    readonly: bool
    collections: frozenset[str] | None

    def reaches(self, coll: Collection) -> bool:
        return self.collections is None or coll.name in self.collections or coll.id in self.collections


def superuser_roles_set(app: App) -> bool:
    """True when some superuser has a role (the HTTP check is skipped entirely otherwise)."""
    coll = app.collections.get(SUPERUSERS)
    return coll is not None and bool(coll.options.get(OPTION))


def superuser_role(info: RequestInfo) -> SuperuserRole | None:
    """The caller's role when it is a superuser with one; None for everyone else."""
    if not info.is_superuser or info.auth_collection is None:
        return None
    roles = info.auth_collection.options.get(OPTION)
    entry = roles.get(info.auth_id) if isinstance(roles, dict) else None
    if not isinstance(entry, dict):
        return None
    collections = entry.get("collections")
    return SuperuserRole(
        readonly=bool(entry.get("readonly")),
        collections=frozenset(collections) if isinstance(collections, list) else None,
    )


def check_superuser_records(info: RequestInfo, coll: Collection, rule_name: str) -> None:
    """403 when a superuser's role refuses ``rule_name`` (a record operation) on ``coll``."""
    role = superuser_role(info)
    if role is None:
        return
    if not role.reaches(coll):
        raise Forbidden(OUT_OF_SCOPE)
    if rule_name in _WRITES and (role.readonly or coll.name == SUPERUSERS):
        raise Forbidden(READ_ONLY)  # a limited superuser never makes (or widens) a superuser


def superuser_reaches(info: RequestInfo, coll: Collection) -> bool:
    """False when a superuser's role keeps it away from ``coll`` (expand, realtime)."""
    role = superuser_role(info)
    return role is None or role.reaches(coll)


def check_superuser_request(info: RequestInfo, method: str, path: str) -> None:
    """403 for a write outside the records API by a superuser with a role (any HTTP route)."""
    role = superuser_role(info)
    if role is None or method in ("GET", "HEAD", "OPTIONS"):
        return
    if _RECORDS_PATH.match(path) or _ALWAYS_ALLOWED.match(path):
        return  # record operations are judged per collection by the record pipeline
    raise Forbidden(READ_ONLY)
