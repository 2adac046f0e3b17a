"""Collection changes for migration files: ``from roost.migrations import collections``.

Each call goes through the collection store's model level (the ``on_collection_*`` hooks fire,
definitions are validated, DDL and definition are written together) and joins the transaction
the runner opened for the migration, so a failure anywhere in ``up`` undoes all of it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from roost.core.errors import BadRequest
from roost.core.schema.collection import Collection


def find(app: Any, name_or_id: str) -> Collection:
    """The collection ``name_or_id``; raises ``BadRequest`` when there is none."""
    found = app.collections.get(name_or_id)
    if found is None:
        raise BadRequest(f'Missing collection "{name_or_id}".')
    return found  # type: ignore[no-any-return]


async def create(app: Any, data: Mapping[str, Any]) -> Collection:
    """Create a collection from its JSON (as ``POST /api/collections`` takes it, ids kept)."""
    return await app.collections.create(copy.deepcopy(dict(data)))  # type: ignore[no-any-return]


async def update(app: Any, data: Mapping[str, Any]) -> Collection:
    """Update the collection with ``data["id"]`` (else ``data["name"]``) to ``data``."""
    existing = app.collections.get(str(data.get("id") or "")) or find(app, str(data.get("name") or ""))
    return await app.collections.update(existing, copy.deepcopy(dict(data)))  # type: ignore[no-any-return]


async def save(app: Any, data: Mapping[str, Any]) -> Collection:
    """Update the collection ``data`` names (by id, then name), or create it when there is none."""
    existing = app.collections.get(str(data.get("id") or "")) or app.collections.get(str(data.get("name") or ""))
    if existing is None:
        return await create(app, data)
    return await app.collections.update(existing, copy.deepcopy(dict(data)))  # type: ignore[no-any-return]


async def delete(app: Any, name_or_id: str) -> None:
    """Delete a collection and its table (a missing one is already gone)."""
    found = app.collections.get(name_or_id)
    if found is not None:
        await app.collections.delete(found)


async def import_collections(app: Any, items: Iterable[Mapping[str, Any]]) -> None:
    """Create or update every collection of ``items`` (none is deleted), whatever their order.

    New tables are created first without their relation fields, rules and indexes, then every
    collection gets its full definition, then views: collections that refer to each other (a
    relation each way, a rule reading the other) import in one go.
    """
    data_list = [copy.deepcopy(dict(i)) for i in items]
    tables = [i for i in data_list if i.get("type") != "view"]
    for data in tables:
        if app.collections.get(str(data.get("id") or "")) is None and app.collections.get(str(data.get("name") or "")) is None:
            await create(app, _bare(data))
    for data in tables:
        await save(app, data)
    for data in data_list:
        if data.get("type") == "view":
            await save(app, data)


def _bare(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without what may point at collections not created yet."""
    bare = {k: v for k, v in data.items() if not k.endswith("Rule") and k not in ("indexes", "fields")}
    bare["fields"] = [f for f in data.get("fields") or [] if f.get("type") != "relation"]
    bare["indexes"] = []
    return bare
