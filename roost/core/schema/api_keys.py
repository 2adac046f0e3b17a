"""What an API key may do: its scopes, and the principal it acts as in rules (no I/O).

A scope is ``<collection>:<operation>``: the collection by name or id, or ``*`` for every
collection; the operation one of :data:`OPERATIONS`, or ``*`` for all of them. A bare ``*`` is
``*:*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.core.schema.collection import Collection
from roost.core.schema.fields import field_from_dict

#: the name rules see as ``@request.auth.collectionName`` for a request made with an API key
API_KEYS = "_apiKeys"
OPERATIONS = ("list", "view", "create", "update", "delete")
#: the record rule each operation is checked against, after the scope
RULE_OPERATIONS = {"listRule": "list", "viewRule": "view", "createRule": "create", "updateRule": "update", "deleteRule": "delete"}
_SCOPE_RE = re.compile(r"^(\*|\w+):(\*|list|view|create|update|delete)$")


@dataclass(frozen=True)
class ApiKeyGrant:
    """An authenticated API key: its id (the principal's ``@request.auth.id``) and its scopes."""

    id: str
    name: str
    scopes: tuple[str, ...]

    def allows(self, coll: Collection, operation: str) -> bool:
        """True when one scope covers ``operation`` on ``coll``."""
        for scope in self.scopes:
            target, _, op = ("*:*" if scope == "*" else scope).partition(":")
            if target in ("*", coll.name, coll.id) and op in ("*", operation):
                return True
        return False


def normalize_scopes(value: object) -> list[str] | None:
    """The scopes as given, de-duplicated in order, or None when one is malformed."""
    if not isinstance(value, list) or not value:
        return None
    scopes: list[str] = []
    for item in value:
        if not isinstance(item, str) or not (item == "*" or _SCOPE_RE.match(item)):
            return None
        if item not in scopes:
            scopes.append(item)
    return scopes


def principal_collection() -> Collection:
    """The collection a key's principal belongs to: ``@request.auth.collectionName = "_apiKeys"``.

    It is not one of the app's collections (never listed, never writable); its fields are the
    columns of the ``_apiKeys`` table a rule may read (``@request.auth.name``).
    """
    fields = [field_from_dict({"type": "text", "name": n, "system": True, "primaryKey": n == "id"}) for n in ("id", "name")]
    return Collection(id=API_KEYS, name=API_KEYS, system=True, fields=fields)

