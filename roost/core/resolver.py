"""Resolves filter identifiers against the records of a collection.

Implements :class:`roost.tools.filter.FieldResolver`. Every path becomes SQL correlated to the
base table alias, with no joins in the outer query:

* a plain field is a column (``alias."title"``);
* a single relation/back-relation hop becomes a scalar subquery (``(SELECT r."name" FROM ...
  WHERE r."id" = alias."author" LIMIT 1)``); once a hop is multi-valued (multiple relation,
  back-relation without a unique index, ``:each``) the operand is a set ``source`` instead and
  the compiler applies the any/all semantics;
* ``@collection.X`` rows are hoisted: the compiler wraps the whole filter in one
  ``EXISTS (SELECT 1 FROM ... X ...)`` so every comparison naming the same ``X[:alias]`` talks
  about the same row, as with PocketBase's shared join.

For non-superusers (``allow_hidden=False``) hidden fields are rejected, crossing into a
collection requires its listRule to be non-null (and that rule then filters the related rows),
and ``email`` of auth records only matches where ``emailVisibility`` is true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from roost.core.collections import Collection
from roost.core.events import RequestInfo
from roost.core.fields import Field
from roost.tools.filter import (
    BOOL,
    JSON,
    NUMBER,
    TEXT,
    Binder,
    FilterError,
    Hoist,
    Operand,
    compare,
    compile_filter,
    get_dialect,
    parse_rule,
)

__all__ = ["MAX_NESTED_RELATIONS", "CollectionLookup", "RecordFieldResolver", "RequestInfo"]

CollectionLookup = Callable[[str], Collection | None]

MAX_NESTED_RELATIONS = 6
STATIC_AUTH_FIELDS = (
    "id",
    "collectionId",
    "collectionName",
    "email",
    "emailVisibility",
    "verified",
)
MULTI_VALUE_TYPES = ("select", "file", "relation")
MODIFIERS = ("", "isset", "changed", "length", "each", "lower")

_VIA_RE = re.compile(r"^(\w+)_via_(\w+)$")
_UNIQUE_RE = re.compile(
    r"^\s*create\s+unique\s+index\b.*?\(\s*[`\"\[]?(\w+)[`\"\]]?\s*\)\s*(where\b.*)?$", re.I | re.S
)
_KINDS = {"number": NUMBER, "bool": BOOL, "json": JSON, "geoPoint": JSON}


def _split_modifier(prop: str) -> tuple[str, str]:
    name, _, modifier = prop.partition(":")
    if modifier not in MODIFIERS:
        raise FilterError(f"Unknown modifier {modifier!r}.")
    return name, modifier


def _has_unique_index(collection: Collection, column: str) -> bool:
    return any((m := _UNIQUE_RE.match(idx)) and m.group(1) == column for idx in collection.indexes)


def _is_json_storage(fld: Field) -> bool:
    return fld.type in ("json", "geoPoint") or fld.is_multiple()


@dataclass
class _Walk:
    """The state of one path being resolved: the FROM/WHERE built so far and where we stand."""

    collection: Collection
    alias: str
    allow_hidden: bool
    nullify_missing: bool = False
    froms: list[str] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    multi: bool = False
    hops: int = 0


class RecordFieldResolver:
    """Resolve identifiers of filters and rules over records of ``collection``.

    Args:
        lookup: finds a collection by name or id (None when missing).
        collection: the base collection.
        alias: SQL alias of the base table in the outer query.
        info: the request (auth record, body, query, headers, method, context).
        allow_hidden: superuser mode (hidden fields, no listRule checks on relations).
        dialect: ``sqlite`` or ``postgresql``.
    """

    def __init__(
        self,
        lookup: CollectionLookup,
        collection: Collection,
        *,
        alias: str,
        info: RequestInfo | None = None,
        allow_hidden: bool = False,
        dialect: str = "sqlite",
    ) -> None:
        self.lookup = lookup
        self.collection = collection
        self.alias = alias
        self.info = info or RequestInfo()
        self.allow_hidden = allow_hidden
        self.dialect = get_dialect(dialect)

    # ----- entry point -------------------------------------------------------------------------
    def resolve(self, name: str, binder: Binder) -> Operand:
        """Resolve one identifier (see the module docstring)."""
        if name == "@rowid":
            column = "_rowid_" if self.dialect.name == "sqlite" else "ctid"
            return Operand(sql=f"{self.alias}.{column}", kind=NUMBER)
        props = name.split(".")
        if any(not p for p in props):
            raise FilterError("Invalid field path.")
        if props[0] == "@collection":
            return self._collection_field(props, binder)
        if props[0] == "@request":
            return self._request_field(props, binder)
        if props[0].startswith(("@", "#")):
            raise FilterError("Unknown identifier.")
        walk = _Walk(self.collection, self.alias, self.allow_hidden)
        return self._walk(walk, props, binder)

    def _lookup(self, name_or_id: str) -> Collection:
        found = self.lookup(name_or_id) if name_or_id else None
        if found is None:
            raise FilterError("Failed to resolve a collection of the field path.")
        return found

    def _q(self, ident: str) -> str:
        return self.dialect.quote(ident)

    # ----- path walking ----------------------------------------------------------------------
    def _walk(self, walk: _Walk, props: list[str], binder: Binder) -> Operand:
        for index, prop in enumerate(props):
            if index == len(props) - 1:
                return self._last(walk, prop, binder)
            fld = walk.collection.get_field(prop)
            if fld is not None and fld.hidden and not walk.allow_hidden:
                raise FilterError(f"Non-filterable field {prop!r}.")
            if fld is not None and fld.type in ("json", "geoPoint"):
                column = f"{walk.alias}.{self._q(fld.name)}"
                value = self.dialect.json_extract(column, props[index + 1 :], binder.bind)
                return self._finish(walk, value, JSON, None)
            if walk.hops >= MAX_NESTED_RELATIONS:
                raise FilterError("Max nested relations reached.")
            if fld is None:
                if not self._back_relation(walk, prop, binder):
                    return Operand.null()
            elif fld.type != "relation":
                raise FilterError(f"Field {prop!r} is not a relation.")
            elif not fld.is_multiple() and index == len(props) - 2 and props[-1] == "id":
                return self._last(walk, prop, binder)  # rel.id is the rel column itself
            else:
                self._relation(walk, fld, binder)
        raise FilterError("Invalid field path.")  # pragma: no cover - loop always returns

    def _target(self, walk: _Walk, collection_id: str) -> Collection:
        target = self._lookup(collection_id)
        if not walk.allow_hidden and target.rule("listRule") is None:
            raise FilterError("Only superusers can filter by this relation.")
        return target

    def _rule_condition(self, walk: _Walk, target: Collection, alias: str, binder: Binder) -> str:
        rule = target.rule("listRule")
        if walk.allow_hidden or not rule:
            return ""
        sub = RecordFieldResolver(
            self.lookup,
            target,
            alias=alias,
            info=self.info,
            allow_hidden=True,
            dialect=self.dialect.name,
        )
        tree = parse_rule(rule, cache_key=(target.id, target.version))
        return f" AND ({compile_filter(tree, sub, binder=binder).sql})"

    def _attach(self, walk: _Walk, table_sql: str, on: str, rule: str) -> None:
        if not walk.froms:
            walk.froms.append(table_sql)
            walk.wheres.append(on + rule)
        else:
            walk.froms.append(f"LEFT JOIN {table_sql} ON {on}{rule}")

    def _relation(self, walk: _Walk, fld: Field, binder: Binder) -> None:
        target = self._target(walk, str(getattr(fld, "collectionId", "")))
        column = f"{walk.alias}.{self._q(fld.name)}"
        alias = binder.alias("r")
        rule = self._rule_condition(walk, target, alias, binder)
        table_sql = f"{self._q(target.table)} AS {alias}"
        if fld.is_multiple():
            each, value = self.dialect.json_each(column, binder.alias("j"), True)
            walk.froms.append(each if not walk.froms else f"LEFT JOIN {each} ON 1=1")
            walk.froms.append(f"LEFT JOIN {table_sql} ON {alias}.{self._q('id')} = {value}{rule}")
            walk.multi = True
        else:
            self._attach(walk, table_sql, f"{alias}.{self._q('id')} = {column}", rule)
        walk.collection, walk.alias, walk.hops = target, alias, walk.hops + 1

    def _back_relation(self, walk: _Walk, prop: str, binder: Binder) -> bool:
        match = _VIA_RE.match(prop)
        back = self.lookup(match.group(1)) if match else None
        back_field = back.get_field(match.group(2)) if back and match else None
        if (
            back is None
            or back_field is None
            or back_field.type != "relation"
            or getattr(back_field, "collectionId", None) != walk.collection.id
        ):
            if walk.nullify_missing:
                return False
            raise FilterError(f"Failed to resolve field {prop!r}.")
        if back_field.hidden and not walk.allow_hidden:
            raise FilterError(f"Non-filterable field {back_field.name!r}.")
        target = self._target(walk, back.id)
        alias = binder.alias("b")
        rule = self._rule_condition(walk, target, alias, binder)
        back_column = f"{alias}.{self._q(back_field.name)}"
        current_id = f"{walk.alias}.{self._q('id')}"
        if back_field.is_multiple():
            each, value = self.dialect.json_each(back_column, binder.alias("j"), True)
            on = f"EXISTS (SELECT 1 FROM {each} WHERE {value} = {current_id})"
        else:
            on = f"{back_column} = {current_id}"
        self._attach(walk, f"{self._q(target.table)} AS {alias}", on, rule)
        walk.multi = (
            walk.multi or back_field.is_multiple() or not _has_unique_index(back, back_field.name)
        )
        walk.collection, walk.alias, walk.hops = target, alias, walk.hops + 1
        return True

    def _last(self, walk: _Walk, prop: str, binder: Binder) -> Operand:
        name, modifier = _split_modifier(prop)
        fld = walk.collection.get_field(name)
        if fld is None:
            if walk.nullify_missing:
                return Operand.null()
            raise FilterError(f"Unknown field {name!r}.")
        if fld.hidden and not walk.allow_hidden:
            raise FilterError(f"Non-filterable field {name!r}.")
        column = f"{walk.alias}.{self._q(fld.name)}"
        kind = _KINDS.get(fld.type, TEXT)
        if modifier in ("isset", "changed"):
            raise FilterError(f"The :{modifier} modifier applies to @request.body fields only.")
        if modifier in ("length", "each") and fld.type not in MULTI_VALUE_TYPES:
            raise FilterError(f"The :{modifier} modifier needs a select, file or relation field.")
        if modifier == "length":
            return self._finish(
                walk, self.dialect.json_array_length(column, _is_json_storage(fld)), NUMBER, None
            )
        if modifier == "each" and fld.is_multiple():
            each, value = self.dialect.json_each(column, binder.alias("j"), True)
            walk.froms.append(each if not walk.froms else f"LEFT JOIN {each} ON 1=1")
            walk.multi = True
            return self._finish(walk, value, TEXT, None)
        guard = None
        if name == "email" and walk.collection.is_auth and not walk.allow_hidden:
            guard = f"{walk.alias}.{self._q('emailVisibility')} = TRUE"
        if kind == JSON:
            value = self.dialect.json_extract(column, [], binder.bind)
        elif _is_json_storage(fld):
            value = self.dialect.to_text(column, JSON) if self.dialect.typed else column
        else:
            value = column
        if modifier == "lower":
            value, kind = self.dialect.lower(self.dialect.to_text(value, kind)), TEXT
        return self._finish(walk, value, kind, guard)

    def _finish(self, walk: _Walk, value: str, kind: str, guard: str | None) -> Operand:
        if not walk.froms:
            return Operand(sql=value, kind=kind, guard=guard)
        wheres = list(walk.wheres)
        body = "FROM " + " ".join(walk.froms)
        if walk.multi:
            wheres += [guard] if guard else []
            where = f" WHERE {' AND '.join(wheres)}" if wheres else ""
            return Operand(kind=kind, source=f"SELECT {value} AS v {body}{where}")
        where = f" WHERE {' AND '.join(wheres)}" if wheres else ""
        scalar_guard = None
        if guard:
            scalar_guard = f"EXISTS (SELECT 1 {body} WHERE {' AND '.join([*wheres, guard])})"
        return Operand(sql=f"(SELECT {value} {body}{where} LIMIT 1)", kind=kind, guard=scalar_guard)

    # ----- @collection -------------------------------------------------------------------------
    def _collection_field(self, props: list[str], binder: Binder) -> Operand:
        if len(props) < 3:
            raise FilterError("Invalid @collection field path.")
        name, _, alias_name = props[1].partition(":")
        target = self._lookup(name)
        key = f"@collection.{target.id}:{alias_name or '_'}"
        hoisted = binder.hoist_alias(key)
        # PocketBase treats @collection paths as system paths: hidden fields and no listRule
        shared = _Walk(target, hoisted, allow_hidden=True)
        operand = self._walk(shared, props[2:], binder)
        if operand.static or operand.multi:
            return operand
        every_alias = binder.alias("c")
        every = _Walk(target, every_alias, allow_hidden=True)
        independent = self._walk(every, props[2:], binder)
        source = f"SELECT {independent.sql} AS v FROM {self._q(target.table)} AS {every_alias}"
        hoist = Hoist(key, f"{self._q(target.table)} AS {hoisted}", source)
        return replace(operand, hoists=(hoist,))

    # ----- @request ----------------------------------------------------------------------------
    def _request_field(self, props: list[str], binder: Binder) -> Operand:
        info = self.info
        if len(props) < 2:
            return Operand.null()
        section = props[1]
        if section in ("method", "context") and len(props) == 2:
            return Operand.of_value(info.method.upper() if section == "method" else info.context)
        if section == "auth" and len(props) > 2:
            return self._auth_field(props[2:], binder)
        if section == "body" and len(props) > 2:
            return self._body_field(props[2:], binder)
        if section in ("query", "headers") and len(props) == 3:
            key, modifier = _split_modifier(props[2])
            data = info.query if section == "query" else info.headers
            if modifier == "isset":
                return Operand.of_value(key in data)
            if modifier not in ("", "lower"):
                raise FilterError(f"The :{modifier} modifier is not supported here.")
            return self._static(data.get(key), modifier, binder)
        return Operand.null()

    def _static(self, value: Any, modifier: str, binder: Binder) -> Operand:
        operand = Operand.of_value(value)
        if modifier == "lower" and operand.static and operand.value is not None:
            bound = binder.bind(
                str(operand.value) if not isinstance(value, bool) else str(int(value))
            )
            return Operand(sql=self.dialect.lower(bound), kind=TEXT)
        return operand

    def _auth_field(self, props: list[str], binder: Binder) -> Operand:
        info = self.info
        if info.auth is None or info.auth_collection is None:
            return Operand.null()
        name, modifier = _split_modifier(props[0])
        if len(props) == 1 and name in STATIC_AUTH_FIELDS:
            values = {
                "collectionId": info.auth_collection.id,
                "collectionName": info.auth_collection.name,
            }
            return self._static(values.get(name, info.auth.get(name)), modifier, binder)
        alias = binder.alias("a")
        walk = _Walk(info.auth_collection, alias, allow_hidden=True, nullify_missing=True)
        walk.froms.append(f"{self._q(info.auth_collection.table)} AS {alias}")
        walk.wheres.append(f"{alias}.{self._q('id')} = {binder.bind(info.auth_id)}")
        return self._walk(walk, props, binder)

    def _body_field(self, props: list[str], binder: Binder) -> Operand:
        body = self.info.body
        name, modifier = _split_modifier(props[0])
        fld = self.collection.get_field(name)
        if fld is None:
            value: Any = body
            for key in [name, *props[1:]]:
                value = value.get(key) if isinstance(value, dict) else None
            if modifier == "isset":
                return Operand.of_value(name in body and len(props) == 1)
            return self._static(value, modifier, binder)
        if fld.type == "relation" and len(props) > 1:
            return self._body_relation(fld, props[1:], binder)
        if len(props) > 1:
            return Operand.null()
        value = body.get(name)
        if modifier == "isset":
            return Operand.of_value(name in body)
        if modifier == "changed":
            return self._changed(fld, binder)
        if modifier == "length":
            return Operand.of_value(len(_as_list(value)))
        if modifier == "each":
            each, element = self.dialect.json_each_param(
                binder.bind(json.dumps(_as_list(value))), binder.alias("j")
            )
            source = f"SELECT {element} AS v FROM {each}"
            return Operand(kind=TEXT, source=source) if fld.is_multiple() else _first_static(value)
        return self._static(value, modifier, binder)

    def _changed(self, fld: Field, binder: Binder) -> Operand:
        if fld.name not in self.info.body:
            return Operand.of_value(False)
        current = self._last(
            _Walk(self.collection, self.alias, allow_hidden=True), fld.name, binder
        )
        condition = compare(Operand.of_value(self.info.body.get(fld.name)), "!=", current, binder)
        return Operand(sql=f"(CASE WHEN {condition} THEN 1 ELSE 0 END)", kind=NUMBER)

    def _body_relation(self, fld: Field, props: list[str], binder: Binder) -> Operand:
        ids = [str(v) for v in _as_list(self.info.body.get(fld.name)) if v not in (None, "")]
        target = self.lookup(str(getattr(fld, "collectionId", "")))
        if not ids or target is None:
            return Operand.null()
        alias = binder.alias("d")
        walk = _Walk(
            target, alias, allow_hidden=True, nullify_missing=True, multi=fld.is_multiple()
        )
        walk.froms.append(f"{self._q(target.table)} AS {alias}")
        walk.wheres.append(
            f"{alias}.{self._q('id')} IN ({', '.join(binder.bind(i) for i in dict.fromkeys(ids))})"
        )
        return self._walk(walk, props, binder)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _first_static(value: Any) -> Operand:
    items = _as_list(value)
    return Operand.of_value(items[0] if items else None)
