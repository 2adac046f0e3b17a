"""Abuse limits checked on a parsed document before it is validated or run.

Three measures per operation, with fragments expanded where they are spread (a fragment is
measured once and its figures reused, so a "fragment bomb" is counted at its expanded size
without being expanded): the deepest field nesting, the number of aliases, and the number of
fields. Introspection fields (``__schema``, ``__type``) are left out: introspection has its own
switch, and the standard introspection query is deeper than any sensible data query.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

_INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_fields: int


@dataclass(frozen=True)
class _Size:
    depth: int = 0
    aliases: int = 0
    fields: int = 0


class _Measure:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.memo: dict[str, _Size] = {}
        self.visiting: set[str] = set()

    def selection_set(self, node: SelectionSetNode) -> _Size:
        depth = aliases = fields = 0
        for child in node.selections:
            size = self.selection(child)
            depth, aliases, fields = max(depth, size.depth), aliases + size.aliases, fields + size.fields
        return _Size(depth, aliases, fields)

    def selection(self, node: object) -> _Size:
        if isinstance(node, FieldNode):
            if node.name.value in _INTROSPECTION:
                return _Size()
            inner = self.selection_set(node.selection_set) if node.selection_set else _Size()
            return _Size(inner.depth + 1, inner.aliases + (node.alias is not None), inner.fields + 1)
        if isinstance(node, InlineFragmentNode):
            return self.selection_set(node.selection_set)
        if isinstance(node, FragmentSpreadNode):
            return self.fragment(node.name.value)
        return _Size()

    def fragment(self, name: str) -> _Size:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:  # unknown or cyclic: validation reports it
            return _Size()
        self.visiting.add(name)
        self.memo[name] = self.selection_set(definition.selection_set)
        self.visiting.discard(name)
        return self.memo[name]


def check_limits(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """The limit errors of ``document`` (empty when every operation is within the limits)."""
    measure = _Measure(document)
    errors: list[GraphQLError] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        size = measure.selection_set(definition.selection_set)
        name = f"Operation '{definition.name.value}'" if definition.name else "The operation"
        if limits.max_depth and size.depth > limits.max_depth:
            errors.append(_error(f"{name} is nested {size.depth} levels deep; the limit is {limits.max_depth}.", "max_depth", definition))
        if limits.max_aliases and size.aliases > limits.max_aliases:
            errors.append(_error(f"{name} uses {size.aliases} aliases; the limit is {limits.max_aliases}.", "max_aliases", definition))
        if limits.max_fields and size.fields > limits.max_fields:
            errors.append(_error(f"{name} selects {size.fields} fields; the limit is {limits.max_fields}.", "max_fields", definition))
    return errors


def _error(message: str, code: str, node: OperationDefinitionNode) -> GraphQLError:
    return GraphQLError(message, node, extensions={"status": 400, "code": "graphql_" + code})
