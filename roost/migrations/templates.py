"""The text of the migration files Roost writes: blank, collection snapshots, and the
created / updated / deleted files of ``--automigrate``.

Collections are embedded as Python literals of their public JSON (``GET /api/collections``),
without timestamps, signing secrets or OAuth2 provider credentials: each environment keeps its
own secrets, and the files are safe to commit.
"""

from __future__ import annotations

import copy
import pprint
from collections.abc import Iterable
from typing import Any

from roost.core.schema.collection import Collection

_HEADER = '"""{title}"""\n\nfrom roost.migrations import collections\n'


def collection_json(coll: Collection) -> dict[str, Any]:
    """What a migration file keeps of a collection."""
    data = coll.to_dict()
    for key in ("created", "updated"):
        data.pop(key, None)
    oauth2 = data.get("oauth2")
    if isinstance(oauth2, dict):
        data["oauth2"] = {k: v for k, v in copy.deepcopy(oauth2).items() if k != "providers"}
    return data


def _literal(name: str, value: Any) -> str:
    return f"{name} = {pprint.pformat(value, indent=1, width=110, sort_dicts=False)}\n"


def _functions(up: str, down: str) -> str:
    return f"\n\nasync def up(app):\n    {up}\n\n\nasync def down(app):\n    {down}\n"


def blank(name: str) -> str:
    """A new empty migration for ``roost migrate create``."""
    return (
        f'"""{name}"""\n\n\n'
        "async def up(app):\n"
        "    # apply the change: app.collections, roost.migrations.collections, or raw SQL with\n"
        "    # `async with app.db.transaction() as conn: await conn.execute(...)`\n"
        "    pass\n\n\n"
        "async def down(app):\n"
        "    # revert what up did\n"
        "    pass\n"
    )


def snapshot(collections: Iterable[Collection]) -> str:
    """A migration whose ``up`` imports these collections (created or updated, none deleted)."""
    items = [collection_json(c) for c in collections]
    return (
        _HEADER.format(title="Snapshot of the collections (written by `roost migrate collections`).")
        + "\n"
        + _literal("SNAPSHOT", items)
        + _functions("await collections.import_collections(app, SNAPSHOT)", "pass  # a snapshot is not reverted")
    )


def created(coll: Collection) -> str:
    return (
        _HEADER.format(title=f'Created collection "{coll.name}" (written by --automigrate).')
        + "\n"
        + _literal("CREATED", collection_json(coll))
        + _functions("await collections.create(app, CREATED)", 'await collections.delete(app, CREATED["id"])')
    )


def updated(before: Collection, after: Collection) -> str:
    return (
        _HEADER.format(title=f'Updated collection "{before.name}" (written by --automigrate).')
        + "\n"
        + _literal("BEFORE", collection_json(before))
        + "\n"
        + _literal("AFTER", collection_json(after))
        + _functions("await collections.update(app, AFTER)", "await collections.update(app, BEFORE)")
    )


def deleted(coll: Collection) -> str:
    return (
        _HEADER.format(title=f'Deleted collection "{coll.name}" (written by --automigrate).')
        + "\n"
        + _literal("DELETED", collection_json(coll))
        + _functions('await collections.delete(app, DELETED["id"])', "await collections.create(app, DELETED)")
    )
