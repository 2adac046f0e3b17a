"""A pure-Python evaluator of PocketBase's filter and rule language: the oracle of suite S2.

The oracle takes the syntax tree from Roost's parser (the parser is not under test here; the
SQL compiler and the resolver are) and evaluates it over plain Python dicts with the semantics
PocketBase gets from SQLite:

* a record matches when SOME combination of joined rows makes the expression true (PocketBase
  LEFT JOINs every multi-valued path, ``tags:each`` or ``editors.name``, and selects DISTINCT):
  one row per path, shared by every comparison of the expression; an empty list is one row of
  NULL; ``?`` operators look at that row only;
* a plain operator on a multi-valued operand moreover requires that no value makes the
  comparison false (a NULL outcome does not count against it);
* ``=``/``!=`` follow PocketBase's ``resolveEqualExpr`` (NULL and ``''`` are alike, ``!=`` is
  ``IS NOT``), ``~`` is SQLite's ASCII-case-insensitive LIKE with ``%...%`` added unless the
  text has an unescaped ``%``; ``<``... compare with SQLite's affinity and class rules (every
  number sorts before every text, a TEXT column turns a number into text, a NUMERIC one turns
  numeric-looking text into a number); number literals are bound as floats;
* a multi-valued field without ``:each`` or a hop is its raw JSON text, as in PocketBase.

Anything outside this subset raises :class:`Unsupported`, so a caller can skip it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roost.tools.filter import Call, Comparison, Expr, Identifier, Join, Literal, Placeholder, parse
from tests.security.rule_oracle_sql import (
    NULL,
    NUMERIC,
    ROW_NULL,
    TEXT,
    Scalar,
    Truth,
    Value,
    and_,
    scalar,
)


class Unsupported(Exception):
    """The expression uses something the oracle does not model."""


@dataclass(frozen=True)
class FieldDef:
    """One field of a collection: ``type`` is text, email, number, bool, select or relation."""

    type: str
    multi: bool = False
    target: str = ""  # relation: the target collection's name


@dataclass(frozen=True)
class Operand:
    """A resolved operand: one value, or a multi-valued path whose row is chosen by a join."""

    single: Value = ROW_NULL
    key: str = ""  # the join shared by every operand walking the same path ("" if single)
    rows: tuple[Any, ...] = ()
    pick: Callable[[Any], Value] = field(default=lambda row: ROW_NULL)

    @property
    def multi(self) -> bool:
        return bool(self.key)

    def at(self, row: Mapping[str, Any]) -> Value:
        return self.pick(row[self.key]) if self.key else self.single

    def values(self) -> list[Value]:
        return [self.pick(row) for row in self.rows]


@dataclass
class World:
    """The schema, the records of every collection and the request's auth record."""

    schema: dict[str, dict[str, FieldDef]]
    records: dict[str, list[dict[str, Any]]]
    auth: dict[str, Any] | None = None
    auth_collection: str = "users"

    def field(self, collection: str, name: str) -> FieldDef:
        if name == "id":
            return FieldDef("text")
        found = self.schema[collection].get(name)
        if found is None:
            raise Unsupported(f"unknown field {name}")
        return found

    def find(self, collection: str, record_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records[collection] if r["id"] == record_id), None)


def matching_ids(world: World, collection: str, source: str) -> set[str]:
    """Ids of the records of ``collection`` that the filter or rule ``source`` lets through."""
    tree = parse(source, max_length=1 << 16, max_expressions=5000)
    return {r["id"] for r in world.records[collection] if matches(world, collection, r, tree)}


def matches(world: World, collection: str, record: dict[str, Any], tree: Expr) -> bool:
    """True when some choice of joined rows makes ``tree`` true for ``record``."""
    resolved: dict[int, tuple[Operand, Operand]] = {}
    joins: dict[str, tuple[Any, ...]] = {}
    for node in _comparisons(tree):
        pair = tuple(_operand(world, collection, record, side) for side in (node.left, node.right))
        resolved[id(node)] = (pair[0], pair[1])
        for side in pair:
            if side.multi:
                joins[side.key] = side.rows or (None,)
    keys = list(joins)
    for combo in itertools.product(*(joins[k] for k in keys)):
        if _evaluate(tree, resolved, dict(zip(keys, combo, strict=True))) is True:
            return True
    return False


def _comparisons(tree: Expr) -> list[Comparison]:
    if isinstance(tree, Join):
        return [c for item in tree.items for c in _comparisons(item)]
    return [tree]


def _evaluate(tree: Expr, resolved: dict[int, tuple[Operand, Operand]], row: dict[str, Any]) -> Truth:
    if isinstance(tree, Join):
        outcomes = [_evaluate(item, resolved, row) for item in tree.items]
        if tree.op == "and":
            return False if False in outcomes else None if None in outcomes else True
        return True if True in outcomes else None if None in outcomes else False  # "or"
    left, right = resolved[id(tree)]
    any_match = tree.op.startswith("?")
    op = tree.op.lstrip("?")
    outcome = scalar(op, left.at(row), right.at(row))
    if not any_match and (left.multi or right.multi):
        outcome = and_(outcome, _every(op, left, right, row))
    return outcome


def _every(op: str, left: Operand, right: Operand, row: dict[str, Any]) -> bool:
    """No value of the multi-valued side(s) makes the comparison false."""
    if left.multi and right.multi:
        pairs = [(a, b) for a in left.values() for b in (right.values() or [ROW_NULL])]
    elif left.multi:
        pairs = [(a, right.at(row)) for a in left.values()]
    else:
        pairs = [(left.at(row), b) for b in right.values()]
    return all(scalar(op, a, b) is not False for a, b in pairs)


# ---- operands ---------------------------------------------------------------------------------

_STATIC_AUTH = ("id", "email", "collectionName", "verified", "emailVisibility")


def _operand(world: World, collection: str, record: dict[str, Any], node: Any) -> Operand:
    if isinstance(node, Literal):
        value = node.value
        # PocketBase binds every number literal as a float64
        return Operand(Value(float(value) if isinstance(value, int) else value, None, True))
    if isinstance(node, Placeholder | Call):
        raise Unsupported("placeholders and functions")
    assert isinstance(node, Identifier)
    name = node.name
    if name.startswith("@request.auth."):
        return _auth(world, name.split(".")[2:])
    if name.startswith("@"):
        raise Unsupported(name)
    parts = name.split(".")
    base = parts[0].partition(":")[0]
    if base not in world.schema[collection] and base != "id":
        literals: dict[str, Scalar] = {"null": None, "true": 1, "false": 0}
        if len(parts) == 1 and name.lower() in literals:
            return Operand(Value(literals[name.lower()], None, True))
    return _path(world, collection, record, parts)


def _auth(world: World, parts: list[str]) -> Operand:
    auth = world.auth
    if len(parts) != 1 or ":" in parts[0]:
        raise Unsupported("auth paths with hops or modifiers")
    name = parts[0]
    if name not in _STATIC_AUTH:
        fld = world.field(world.auth_collection, name)
    if auth is None:
        return Operand(NULL)
    if name == "collectionName":
        return Operand(Value(world.auth_collection, None, True))
    if name in _STATIC_AUTH:
        kind = "bool" if name in ("verified", "emailVisibility") else "text"
        return Operand(Value(_stored(FieldDef(kind), auth.get(name)), None, True))
    # any other field is read from the auth record joined by its id
    return Operand(_column(fld, auth, name))


def _path(world: World, collection: str, record: dict[str, Any], parts: list[str]) -> Operand:
    name, _, modifier = parts[0].partition(":")
    fld = world.field(collection, name)
    items = _items(record.get(name)) if fld.multi else []
    if len(parts) == 1:
        if not modifier:
            return Operand(_column(fld, record, name))
        if modifier == "each" and fld.multi:
            return Operand(key=f"{name}:each", rows=tuple(items), pick=_raw)
        if modifier == "length" and fld.multi:
            return Operand(Value(len(items)))
        raise Unsupported(f"modifier {modifier}")
    if modifier or fld.type != "relation" or len(parts) != 2 or ":" in parts[1]:
        raise Unsupported("only one plain relation hop")
    ids = items if fld.multi else [i for i in [record.get(name) or ""] if i]
    rows = tuple(world.find(fld.target, i) for i in ids)
    if parts[1] == "id":  # PocketBase reads `rel.id` from the relation itself, not the join
        if not fld.multi:
            return Operand(_column(FieldDef("text"), record, name))
        return Operand(key=name, rows=rows, pick=lambda row: _raw(row and row["id"]))
    target = world.field(fld.target, parts[1])
    if target.multi:
        raise Unsupported("a hop to a multi-valued field")

    def pick(row: dict[str, Any] | None) -> Value:
        return ROW_NULL if row is None else _column(target, row, parts[1])

    if fld.multi:
        return Operand(key=name, rows=rows, pick=pick)
    return Operand(pick(rows[0] if rows else None))


def _raw(item: Any) -> Value:
    return ROW_NULL if item is None else Value(item)  # json_each values have no affinity


def _items(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _column(fld: FieldDef, record: dict[str, Any], name: str) -> Value:
    value = record.get(name)
    if fld.multi:  # the JSON column (declared JSON: NUMERIC affinity), as PocketBase writes it
        return Value(json.dumps(_items(value), separators=(",", ":"), ensure_ascii=False), NUMERIC)
    affinity = NUMERIC if fld.type in ("number", "bool") else TEXT
    return Value(_stored(fld, value), affinity)


def _stored(fld: FieldDef, value: Any) -> Scalar:
    """The value as its SQLite column holds it (the field's zero value when missing)."""
    if fld.type == "bool":
        return 1 if value else 0
    if fld.type == "number":
        number = float(value or 0)
        return int(number) if number.is_integer() else number
    return "" if value is None else str(value)
