"""The ``superuserRoles`` option of ``_superusers`` (no I/O; enforced in :mod:`roost.core.rules.superuser_roles`)."""

from __future__ import annotations

from typing import Any

from roost.core.errors import FieldError
from roost.core.schema.collection import Collection

OPTION = "superuserRoles"
SUPERUSERS = "_superusers"


def superuser_roles_errors(coll: Collection) -> dict[str, Any]:
    """Validation of the ``superuserRoles`` option (only ``_superusers`` may have it)."""
    if OPTION not in coll.options:
        return {}
    roles = coll.options[OPTION]
    bad = FieldError("validation_invalid_superuser_roles", 'Must be {"<superuser id>": {"readonly": bool, "collections": [names]}}.')
    if coll.name != SUPERUSERS or not isinstance(roles, dict):
        return {OPTION: bad}
    for entry in roles.values():
        if not isinstance(entry, dict) or set(entry) - {"readonly", "collections"}:
            return {OPTION: bad}
        collections = entry.get("collections")
        if not isinstance(entry.get("readonly", False), bool) or not (
            collections is None or (isinstance(collections, list) and all(isinstance(c, str) for c in collections))
        ):
            return {OPTION: bad}
    return {}
