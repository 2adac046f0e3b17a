"""``@request.*`` identifiers of filters and rules (see :mod:`roost.core.rules.resolver`).

Static request values (method, context, query, headers, body values, the auth record's plain
fields) are bound parameters. ``@request.auth.<field>`` paths join the auth record, and
``@request.body.<relation>.<field>`` joins the submitted related records, both through the
resolver's path walking. A missing key is NULL, never an error, as in PocketBase.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from roost.core.events import RequestInfo
from roost.core.rules.paths import (
    MULTI_VALUE_TYPES,
    CollectionLookup,
    Path,
    PathStart,
    split_modifier,
)
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field
from roost.tools.filter import NUMBER, TEXT, Binder, Dialect, FilterError, Hoist, Operand, compare


class RecordFieldResolver(Protocol):
    """The parts of :class:`roost.core.rules.resolver.RecordFieldResolver` that ``@request``
    paths walk with."""

    lookup: CollectionLookup
    collection: Collection
    info: RequestInfo
    dialect: Dialect

    def resolve_path(self, start: PathStart, props: list[str], binder: Binder) -> Operand: ...

    def quote(self, ident: str) -> str: ...

    def join(self, path: Path, step: str, binder: Binder) -> str: ...

    def add_join(self, path: Path, from_item: str, on: str) -> None: ...

    def column_operand(self, name: str, binder: Binder) -> Operand: ...

STATIC_AUTH_FIELDS = (
    "id",
    "collectionId",
    "collectionName",
    "email",
    "emailVisibility",
    "verified",
)
_MISSING = object()


def resolve_request_field(
    resolver: RecordFieldResolver, props: list[str], binder: Binder
) -> Operand:
    """Resolve ``@request.<section>...`` (``props`` includes ``@request``)."""
    info = resolver.info
    section = props[1]
    if section in ("method", "context"):
        return Operand.of_value(info.method.upper() if section == "method" else info.context)
    if section == "auth":
        return _auth_field(resolver, props[2:], binder)
    if section == "body":
        return _body_field(resolver, props[2:], binder)
    data = info.query if section == "query" else info.headers
    return _static_path(resolver, data, props[2:], binder)


def unique_strings(value: Any) -> list[str]:
    """PocketBase's view of a submitted multi value: distinct non-empty strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: Any = [value]
        if "[" in value:
            try:
                items = json.loads(value)
            except ValueError:
                items = [value]
            items = items if isinstance(items, list) else [value]
    else:
        items = list(value) if isinstance(value, list | tuple) else [value]
    texts = [item if isinstance(item, str) else json.dumps(item) for item in items]
    return list(dict.fromkeys(t for t in texts if t))


def _static_path(
    resolver: RecordFieldResolver, data: Any, props: list[str], binder: Binder
) -> Operand:
    name, modifier = split_modifier(props[-1])
    value: Any = data
    for key in [*props[:-1], name]:
        value = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
    if modifier == "isset":
        return Operand.of_value(value is not _MISSING)
    return _static(resolver, None if value is _MISSING else value, modifier, binder)


def _static(resolver: RecordFieldResolver, value: Any, modifier: str, binder: Binder) -> Operand:
    operand = Operand.of_value(value)
    if modifier != "lower" or operand.value in (None, ""):
        return operand
    text = str(int(operand.value)) if isinstance(operand.value, bool) else str(operand.value)
    lowered = resolver.dialect.lower(binder.bind(text))
    return Operand(sql=lowered, kind=TEXT, expression=True, nonempty=True)


def _auth_field(resolver: RecordFieldResolver, props: list[str], binder: Binder) -> Operand:
    info = resolver.info
    auth_collection = info.auth_collection
    if info.auth is None or auth_collection is None:
        return Operand.null()
    name, modifier = split_modifier(props[0])
    if len(props) == 1 and name in STATIC_AUTH_FIELDS:
        values = {"collectionId": auth_collection.id, "collectionName": auth_collection.name}
        return _static(resolver, values.get(name, info.auth.get(name)), modifier, binder)

    def start(shared: bool) -> Path:
        path = Path(auth_collection, "", "@request.auth", shared, True, nullify_missing=True)
        path.alias = resolver.join(path, auth_collection.id, binder)
        on = f"{path.alias}.{resolver.quote('id')} = {binder.bind(info.auth_id)}"
        resolver.add_join(path, f"{resolver.quote(auth_collection.table)} AS {path.alias}", on)
        return path

    return resolver.resolve_path(start, props, binder)


def _body_field(resolver: RecordFieldResolver, props: list[str], binder: Binder) -> Operand:
    body = resolver.info.body
    name, modifier = split_modifier(props[0])
    fld = resolver.collection.get_field(name)
    if fld is not None and fld.type == "relation" and len(props) > 1:
        return _body_relation(resolver, fld, props[1:], binder)
    if fld is None or len(props) > 1 or modifier not in ("each", "length", "changed"):
        return _static_path(resolver, body, props, binder)
    if modifier == "changed":
        return _changed(resolver, fld, binder)
    if fld.type not in MULTI_VALUE_TYPES:
        raise FilterError(f"Field {name!r} doesn't support multivalue operations.")
    items = unique_strings(body.get(name))
    if modifier == "length":
        return Operand.of_value(len(items))
    return _body_each(resolver, fld, items, binder)


def _body_each(
    resolver: RecordFieldResolver, fld: Field, items: list[str], binder: Binder
) -> Operand:
    key = f"@request.body.{fld.name}:each"
    alias = binder.hoist_alias(key)
    each, value = resolver.dialect.json_each_param(binder.bind(json.dumps(items)), alias)
    # PocketBase binds the items, so the operand counts as a known non-empty value
    operand = Operand(
        sql=value, kind=TEXT, hoists=(Hoist(key, each),), expression=True, nonempty=True
    )
    if not fld.is_multiple():
        return operand
    values_alias = binder.alias("j")
    values, element = resolver.dialect.json_each_param(
        binder.bind(json.dumps(items)), values_alias
    )
    pad = binder.alias("pad")
    source = f"SELECT {element} AS v FROM (SELECT 1 AS one) AS {pad} LEFT JOIN {values} ON 1=1"
    return replace(operand, source=source)


def _changed(resolver: RecordFieldResolver, fld: Field, binder: Binder) -> Operand:
    body = resolver.info.body
    if fld.name not in body:
        return Operand.of_value(False)
    current = resolver.column_operand(fld.name, binder)
    condition = compare(Operand.of_value(body.get(fld.name)), "!=", current, binder)
    changed = f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"
    return Operand(sql=changed, kind=NUMBER, expression=True)


def _body_relation(
    resolver: RecordFieldResolver, fld: Field, props: list[str], binder: Binder
) -> Operand:
    ids = unique_strings(resolver.info.body.get(fld.name))
    target = resolver.lookup(str(getattr(fld, "collectionId", "")))
    if not ids or target is None:
        return Operand.null()

    def start(shared: bool) -> Path:
        path = Path(target, "", "@request.body", shared, True, nullify_missing=True)
        path.multi = fld.is_multiple()
        path.alias = resolver.join(path, fld.name, binder)
        bound = ", ".join(binder.bind(i) for i in ids)
        on = f"{path.alias}.{resolver.quote('id')} IN ({bound})"
        resolver.add_join(path, f"{resolver.quote(target.table)} AS {path.alias}", on)
        return path

    return resolver.resolve_path(start, props, binder)
