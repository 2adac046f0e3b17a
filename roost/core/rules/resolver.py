"""Resolves filter identifiers against the records of a collection.

Implements :class:`roost.tools.filter.FieldResolver` the way PocketBase's record field resolver
does, with correlated SQL instead of joins in the outer query:

* a plain field is a column (``alias."title"``);
* every relation, back-relation, ``:each`` and ``@collection`` hop is a LEFT JOIN shared by the
  whole filter (a :class:`~roost.tools.filter.Hoist` keyed by the path), so ``cats.a ?= 1 &&
  cats.b ?= 2`` talks about one related row, as with PocketBase's joins;
* a path that crosses a multi-valued hop (multiple relation, back-relation without a unique
  index, ``:each``, ``@collection``) additionally gets an independent ``source`` listing all
  its values, which the compiler uses for the match-all check of plain operators.

For non-superusers (``allow_hidden=False``) hidden fields are rejected, crossing into a
collection requires its listRule to be non-null (and that rule then filters the related rows),
and ``email`` of auth records only matches where ``emailVisibility`` is true. ``@request.*``
identifiers are handled in :mod:`roost.core.rules.request_fields`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from roost.core.events import RequestInfo
from roost.core.rules.paths import (
    MAX_NESTED_RELATIONS,
    MULTI_VALUE_TYPES,
    CollectionLookup,
    Path,
    PathStart,
    split_modifier,
)
from roost.core.rules.request_fields import resolve_request_field
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field
from roost.tools.filter import (
    BOOL,
    JSON,
    NUMBER,
    TEXT,
    Binder,
    FilterError,
    Hoist,
    Operand,
    compile_filter,
    get_dialect,
    parse_rule,
)

__all__ = ["MAX_NESTED_RELATIONS", "CollectionLookup", "RecordFieldResolver", "RequestInfo"]


# PocketBase accepts only these identifier shapes (anything else is an unknown field)
_ALLOWED_RE = re.compile(
    r"\w+[\w.:]*|@request\.(context|method)|@request\.(auth|body|query|headers)\.[\w.:]*\w"
    r"|@collection\.\w+(:\w+)?\.[\w.:]*\w",
    re.ASCII,
)
_VIA_RE = re.compile(r"^(\w+)_via_(\w+)$")
_UNIQUE_RE = re.compile(
    r"^\s*create\s+unique\s+index\b.*?\(\s*[`\"\[]?(\w+)[`\"\]]?\s*\)\s*(where\b.*)?$", re.I | re.S
)
_KINDS = {"number": NUMBER, "bool": BOOL, "json": JSON, "geoPoint": JSON}


def _has_unique_index(collection: Collection, column: str) -> bool:
    return any((m := _UNIQUE_RE.match(idx)) and m.group(1) == column for idx in collection.indexes)


def _when(condition: str | None, value: str) -> str:
    return f"(CASE WHEN {condition} THEN {value} END)" if condition else value


def _is_json_storage(fld: Field) -> bool:
    return fld.type in ("json", "geoPoint") or fld.is_multiple()


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
        self._joins: dict[str, Hoist] = {}

    # ----- entry point -------------------------------------------------------------------------
    def resolve(self, name: str, binder: Binder) -> Operand:
        """Resolve one identifier (see the module docstring)."""
        if name == "@rowid":
            column = {"sqlite": "_rowid_", "mysql": '"_rowid"'}.get(self.dialect.name, "ctid")
            return Operand(sql=f"{self.alias}.{column}", kind=NUMBER)
        if not _ALLOWED_RE.fullmatch(name):
            raise FilterError(f"Unknown field {name!r}.")
        props = name.split(".")
        if props[0] == "@collection":
            return self._collection_field(props, binder)
        if props[0] == "@request":
            return resolve_request_field(self, props, binder)

        def start(shared: bool) -> Path:
            return Path(self.collection, self.alias, self.alias, shared, self.allow_hidden)

        return self.resolve_path(start, props, binder)

    def resolve_path(self, start: PathStart, props: list[str], binder: Binder) -> Operand:
        """Walk ``props`` from ``start``: shared joins for the value, a source when multi."""
        path = start(True)
        operand = self._walk(path, props, binder)
        if operand.static:
            return operand
        operand = replace(operand, hoists=tuple(path.joins))
        if not path.multi:
            return operand
        values = start(False)
        element = self._walk(values, props, binder)
        pad = binder.alias("pad")
        joins = "".join(f" LEFT JOIN {j.from_item} ON {j.on}" for j in values.joins)
        source = f"SELECT {element.sql} AS v FROM (SELECT 1 AS one) AS {pad}{joins}"
        return replace(operand, source=source)

    def lookup_collection(self, name_or_id: str) -> Collection:
        """The collection ``name_or_id``; FilterError when it does not exist."""
        found = self.lookup(name_or_id) if name_or_id else None
        if found is None:
            raise FilterError("Failed to resolve a collection of the field path.")
        return found

    def quote(self, ident: str) -> str:
        """Quote a table or column name for the current dialect."""
        return self.dialect.quote(ident)

    def join(self, path: Path, step: str, binder: Binder) -> str:
        """Extend ``path.key`` by ``step`` and return the alias of the join it names."""
        path.key = f"{path.key}.{step}"
        return binder.hoist_alias(path.key) if path.shared else binder.alias("m")

    def add_join(self, path: Path, from_item: str, on: str) -> None:
        """Append a LEFT JOIN to ``path`` (shared joins are built once per path key)."""
        if path.shared:
            hoist = self._joins.setdefault(path.key, Hoist(path.key, from_item, on))
        else:
            hoist = Hoist(path.key, from_item, on)
        path.joins.append(hoist)

    # ----- path walking ----------------------------------------------------------------------
    def _walk(self, path: Path, props: list[str], binder: Binder) -> Operand:
        for index, prop in enumerate(props):
            if index == len(props) - 1:
                return self._last(path, prop, binder)
            fld = path.collection.get_field(prop)
            if fld is not None and fld.hidden and not path.allow_hidden:
                raise FilterError(f"Non-filterable field {prop!r}.")
            if fld is not None and fld.type in ("json", "geoPoint"):
                column = f"{path.alias}.{self.quote(fld.name)}"
                value = self.dialect.json_extract(column, props[index + 1 :], binder.bind)
                readable = self._read_condition(path, fld, binder)
                return Operand(sql=_when(readable, value), kind=JSON, guard=readable)
            if path.hops >= MAX_NESTED_RELATIONS:
                raise FilterError("Max nested relations reached.")
            if fld is None:
                if not self._back_relation(path, prop, binder):
                    return Operand.null()
            elif fld.type != "relation":
                raise FilterError(f"Field {prop!r} is not a relation.")
            elif not fld.is_multiple() and index == len(props) - 2 and props[-1] == "id":
                return self._last(path, prop, binder)  # rel.id is the rel column itself
            else:
                self._relation(path, fld, binder)
        raise FilterError("Invalid field path.")  # pragma: no cover - loop always returns

    def _target(self, path: Path, collection_id: str) -> Collection:
        target = self.lookup_collection(collection_id)
        if not path.allow_hidden and target.rule("listRule") is None:
            raise FilterError("Only superusers can filter by this relation.")
        key = self.info.api_key
        if not path.allow_hidden and key is not None and not key.allows(target, "list"):
            raise FilterError("The API key has no scope to filter by this relation.")
        return target

    def _rule_condition(self, path: Path, target: Collection, alias: str, binder: Binder) -> str:
        rule = target.rule("listRule")
        if path.allow_hidden or not rule:
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

    def _relation(self, path: Path, fld: Field, binder: Binder) -> None:
        target = self._target(path, str(getattr(fld, "collectionId", "")))
        column = f"{path.alias}.{self.quote(fld.name)}"
        readable = self._read_condition(path, fld, binder)
        if fld.is_multiple():
            each_alias = self.join(path, f"{fld.name}:each", binder)
            each, value = self.dialect.json_each(column, each_alias, True)
            self.add_join(path, each, "1=1")
            path.key = path.key.removesuffix(":each")
            path.multi = True
        else:
            value = column
        alias = self.join(path, fld.name, binder)
        rule = self._rule_condition(path, target, alias, binder)
        if readable:  # an unreadable relation leads nowhere
            rule = f"{rule} AND {readable}"
        on = f"{alias}.{self.quote('id')} = {value}{rule}"
        self.add_join(path, f"{self.quote(target.table)} AS {alias}", on)
        path.collection, path.alias, path.hops = target, alias, path.hops + 1

    def _back_relation(self, path: Path, prop: str, binder: Binder) -> bool:
        match = _VIA_RE.match(prop)
        back = self.lookup(match.group(1)) if match else None
        back_field = back.get_field(match.group(2)) if back and match else None
        if (
            back is None
            or back_field is None
            or back_field.type != "relation"
            or getattr(back_field, "collectionId", None) != path.collection.id
        ):
            if path.nullify_missing:
                return False
            raise FilterError(f"Failed to resolve field {prop!r}.")
        if back_field.hidden and not path.allow_hidden:
            raise FilterError(f"Non-filterable field {back_field.name!r}.")
        target = self._target(path, back.id)
        current_id = f"{path.alias}.{self.quote('id')}"
        alias = self.join(path, prop, binder)
        rule = self._rule_condition(path, target, alias, binder)
        readable = self._read_condition(Path(back, alias, "", True, True), back_field, binder)
        if readable:  # a related row whose link the caller cannot read is not related for them
            rule = f"{rule} AND {readable}"
        back_column = f"{alias}.{self.quote(back_field.name)}"
        if back_field.is_multiple():
            each, value = self.dialect.json_each(back_column, binder.alias("j"), True)
            on = f"EXISTS (SELECT 1 FROM {each} WHERE {value} = {current_id})"
        else:
            on = f"{back_column} = {current_id}"
        self.add_join(path, f"{self.quote(target.table)} AS {alias}", on + rule)
        path.multi = (
            path.multi or back_field.is_multiple() or not _has_unique_index(back, back_field.name)
        )
        path.collection, path.alias, path.hops = target, alias, path.hops + 1
        return True

    def _last(self, path: Path, prop: str, binder: Binder) -> Operand:
        name, modifier = split_modifier(prop)
        fld = path.collection.get_field(name)
        if fld is None:
            if path.nullify_missing:
                return Operand.null()
            raise FilterError(f"Unknown field {name!r}.")
        if fld.hidden and not path.allow_hidden:
            raise FilterError(f"Non-filterable field {name!r}.")
        column = f"{path.alias}.{self.quote(fld.name)}"
        readable = self._read_condition(path, fld, binder)
        # like PocketBase, a modifier a field type does not support is ignored
        if modifier == "length" and fld.type in MULTI_VALUE_TYPES:
            length = self.dialect.json_array_length(column, _is_json_storage(fld))
            return Operand(sql=_when(readable, length), kind=NUMBER, expression=True, guard=readable)
        if modifier == "each" and fld.type in MULTI_VALUE_TYPES:
            alias = self.join(path, f"{fld.name}:each", binder)
            each, value = self.dialect.json_each(column, alias, _is_json_storage(fld))
            self.add_join(path, each, readable or "1=1")
            path.multi = True
            return Operand(sql=value, kind=TEXT, expression=True, guard=readable)
        guard = readable
        if name == "email" and path.collection.is_auth and not path.allow_hidden:
            visible = f"{path.alias}.{self.quote('emailVisibility')} = TRUE"
            guard = f"{visible} AND {readable}" if readable else visible
        kind = _KINDS.get(fld.type, TEXT)
        if kind == JSON:
            value = self.dialect.json_extract(column, [], binder.bind)
        elif _is_json_storage(fld):
            value = self.dialect.array_text(column)
        else:
            value = column
        if modifier == "lower":
            value = self.dialect.lower(self.dialect.to_text(value, kind))
            kind = JSON if kind == JSON and not self.dialect.typed else TEXT
        expression = modifier == "lower" or readable is not None
        return Operand(sql=_when(readable, value), kind=kind, guard=guard, expression=expression)

    def _read_condition(self, path: Path, fld: Field, binder: Binder) -> str | None:
        """SQL true where the caller passes ``fld``'s readRule; None when nothing restricts it.

        Only user filters and sorts (``allow_hidden`` off) are constrained, on every path
        including ``@collection`` ones: where the rule fails the field reads as NULL and every
        comparison on it is false, so a filter or sort never reveals a value the caller could
        not read (see docs/roles.md).
        """
        rule = fld.readRule
        if self.allow_hidden or not rule:
            return None
        sub = RecordFieldResolver(
            self.lookup,
            path.collection,
            alias=path.alias,
            info=self.info,
            allow_hidden=True,
            dialect=self.dialect.name,
        )
        tree = parse_rule(rule, cache_key=(path.collection.id, path.collection.version))
        return f"({compile_filter(tree, sub, binder=binder).sql})"

    def column_operand(self, name: str, binder: Binder) -> Operand:
        """The stored value of base field ``name`` (hidden fields allowed)."""
        path = Path(self.collection, self.alias, self.alias, True, allow_hidden=True)
        return self._last(path, name, binder)

    # ----- @collection -------------------------------------------------------------------------
    def _collection_field(self, props: list[str], binder: Binder) -> Operand:
        name, _, alias_name = props[1].partition(":")
        target = self.lookup_collection(name)

        def start(shared: bool) -> Path:
            # PocketBase treats @collection paths as system paths: hidden fields, no listRule
            path = Path(target, "", "@collection", shared, allow_hidden=True, multi=True)
            path.alias = self.join(path, f"{target.id}:{alias_name or '_'}", binder)
            self.add_join(path, f"{self.quote(target.table)} AS {path.alias}", "1=1")
            return path

        return self.resolve_path(start, props[2:], binder)
