"""The state of one field path being resolved, shared by the resolver modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from roost.core.schema.collection import Collection
from roost.tools.filter import FilterError, Hoist

MAX_NESTED_RELATIONS = 6
#: field types PocketBase lets ``:each``/``:length`` iterate (single-valued ones hold one item)
MULTI_VALUE_TYPES = ("select", "file", "relation")
MODIFIERS = ("isset", "changed", "length", "each", "lower")


def split_modifier(prop: str) -> tuple[str, str]:
    """``name:modifier`` split in two; a prop with several colons is a plain (unknown) name."""
    parts = prop.split(":")
    if len(parts) != 2:
        return prop, ""
    if parts[1] not in MODIFIERS:
        raise FilterError(f"Unknown modifier {parts[1]!r}.")
    return parts[0], parts[1]


@dataclass
class Path:
    """The joins of one field path, built either as shared joins or as an independent source.

    Attributes:
        collection: the collection the path currently stands on.
        alias: SQL alias of its table.
        key: identity of the path so far (shared joins of equal keys are the same join).
        shared: True: aliases are the binder's shared ones; False: fresh (for ``source``).
        allow_hidden: hidden fields and relations without listRule may be used.
        nullify_missing: unknown fields resolve to NULL (``@request.*`` paths).
        joins: the LEFT JOINs so far, in order.
        multi: a multi-valued hop was crossed.
        hops: relation hops so far.
    """

    collection: Collection
    alias: str
    key: str
    shared: bool
    allow_hidden: bool
    nullify_missing: bool = False
    joins: list[Hoist] = field(default_factory=list)
    multi: bool = False
    hops: int = 0


#: how a path starts: called with ``shared`` it returns the fresh :class:`Path`
PathStart = Callable[[bool], Path]
#: finds a collection by name or id (None when missing)
CollectionLookup = Callable[[str], Collection | None]
