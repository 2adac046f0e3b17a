"""The ``sort`` query parameter: parsing and compiling to an ORDER BY list."""

from __future__ import annotations

import re
from dataclasses import dataclass

from roost.tools.filter.compiler import CompiledFilter
from roost.tools.filter.dialects import Dialect
from roost.tools.filter.errors import FilterError, shorten
from roost.tools.filter.operands import Binder, FieldResolver

MAX_SORT_FIELDS = 8
MAX_SORT_FIELD_LENGTH = 255
RANDOM = "@random"
ROWID = "@rowid"

_NAME_RE = re.compile(r"[A-Za-z_@#][A-Za-z0-9_.:@#]*\Z")


@dataclass(frozen=True)
class SortField:
    """One sort key: a field path and its direction."""

    name: str
    descending: bool = False


def parse_sort(
    text: str, *, max_fields: int = MAX_SORT_FIELDS, max_length: int = MAX_SORT_FIELD_LENGTH
) -> tuple[SortField, ...]:
    """Parse ``-created,+title,@random`` into sort fields (an empty text gives none).

    Raises:
        FilterError: on too many fields, a too long or malformed field name.
    """
    if not isinstance(text, str):
        raise FilterError("The sort must be a string.")
    if not text.strip():
        return ()
    parts = text.split(",")
    if len(parts) > max_fields:
        raise FilterError(f"Too many sort fields (max {max_fields}).")
    fields = []
    for raw in parts:
        part = raw.strip()
        descending = part.startswith("-")
        name = part[1:] if part[:1] in ("-", "+") else part
        if len(name) > max_length:
            raise FilterError(f"A sort field is longer than {max_length} characters.")
        if not _NAME_RE.match(name):
            raise FilterError(f"Invalid sort field {shorten(name)!r}.")
        fields.append(SortField(name, descending))
    return tuple(fields)


def compile_sort(
    fields: tuple[SortField, ...],
    resolver: FieldResolver,
    binder: Binder | Dialect | str = "sqlite",
) -> CompiledFilter:
    """The ORDER BY list (without the keyword) of ``fields``; '' when there are none.

    ``@rowid`` is passed to the resolver, which knows the base table alias. Pass the binder of
    the filter of the same statement so parameter names never collide.

    Raises:
        FilterError: when a field does not resolve to a column expression.
    """
    if not isinstance(binder, Binder):
        binder = Binder(binder)
    terms = []
    for field in fields:
        if field.name == RANDOM:
            terms.append(binder.dialect.random())
            continue
        terms.extend(binder.dialect.order_term(key.sql, key.descending) for key in _keys_of(field, resolver, binder))
    return CompiledFilter(", ".join(terms), binder.params)


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY expression and its direction (a field may sort by several keys).

    ``nullable`` is False when the caller knows the expression is never NULL (a NOT NULL column),
    which lets comparisons against it stay simple enough for an index range scan.
    """

    sql: str
    descending: bool
    nullable: bool = True


def compile_sort_keys(fields: tuple[SortField, ...], resolver: FieldResolver, binder: Binder) -> list[SortKey]:
    """The ORDER BY expressions of ``fields``, for callers that also compare against them.

    Raises:
        FilterError: when a field does not resolve, or for ``@random`` (no position to resume from).
    """
    keys: list[SortKey] = []
    for field in fields:
        if field.name == RANDOM:
            raise FilterError("A random sort has no stable position.")
        keys.extend(_keys_of(field, resolver, binder))
    return keys


def _keys_of(field: SortField, resolver: FieldResolver, binder: Binder) -> list[SortKey]:
    operand = resolver.resolve(field.name, binder)
    if operand.static:
        raise FilterError(f"Invalid sort field {shorten(field.name)!r}.")
    sql = operand.sql
    if operand.hoists:
        # the first related row, as SQLite picks for PocketBase's DISTINCT + ORDER BY
        joins = " ".join(f"LEFT JOIN {h.from_item} ON {h.on}" for h in operand.hoists)
        pad = binder.alias("pad")
        sql = f"(SELECT {sql} FROM (SELECT 1 AS one) AS {pad} {joins} LIMIT 1)"
    elif operand.source is not None:
        alias = binder.alias("o")
        sql = f"(SELECT {alias}.v FROM ({operand.source}) AS {alias} LIMIT 1)"
    return [SortKey(key, field.descending) for key in binder.dialect.order_keys(sql, operand.kind)]
