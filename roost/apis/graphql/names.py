"""Collection and field names as GraphQL names, sanitised the same way on every instance.

GraphQL names match ``[_A-Za-z][_0-9A-Za-z]*`` and may not start with ``__``. Roost's names are
already mostly valid; the rest are rewritten deterministically (an invalid character becomes
``_``, a leading digit or ``__`` gets a ``C_`` prefix), and a name taken twice after rewriting
gets its collection id as a suffix so two collections never share a type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from roost.core.schema.collection import Collection

_INVALID = re.compile(r"[^_0-9A-Za-z]")
#: names graphql-core and this schema already use for their own types
RESERVED = frozenset({"String", "Float", "Int", "Boolean", "ID", "JSON", "GeoPoint", "Query", "Mutation", "Subscription"})


def graphql_name(name: str) -> str:
    """``name`` as a valid GraphQL name."""
    out = _INVALID.sub("_", name) or "_"
    if out[0].isdigit() or out.startswith("__"):
        out = "C_" + out
    return out


def upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def collection_names(collections: Iterable[Collection]) -> dict[str, str]:
    """Collection id -> its GraphQL base name, unique among ``collections``."""
    ordered = sorted(collections, key=lambda c: (c.name.lower(), c.id))
    plain = {graphql_name(c.name).lower() for c in ordered}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for coll in ordered:
        name = graphql_name(coll.name)
        # ``<name>List`` and ``<name>Aggregate`` are queries of ``<name>``: a collection called that gets a suffix
        lower = name.lower()
        if lower in taken or upper_first(name) in RESERVED or _derived(lower, plain):
            name = f"{name}_{graphql_name(coll.id)}"
        taken.add(name.lower())
        out[coll.id] = name
    return out


def _derived(lower: str, plain: set[str]) -> bool:
    return any(lower.endswith(suffix) and lower[: -len(suffix)] in plain for suffix in ("list", "aggregate"))


def field_names(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Record key -> GraphQL field name, unique within one type."""
    used = set(taken)
    out: dict[str, str] = {}
    for name in names:
        candidate = graphql_name(name)
        while candidate in used:
            candidate += "_"
        used.add(candidate)
        out[name] = candidate
    return out
