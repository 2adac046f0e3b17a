"""Typed inputs for create and update: ``<Name>CreateInput`` and ``<Name>UpdateInput``.

They are another spelling of the JSON body REST takes, turned back into that body before core
sees it, so validation stays core's. Required fields are non-null in the create input. A field
that takes REST's modifiers gets one input field per modifier, since ``n+`` is not a GraphQL
name: ``n_add`` (``n+``) and ``n_subtract`` (``n-``) for numbers, ``tags_append`` (``tags+``),
``tags_prepend`` (``+tags``) and ``tags_remove`` (``tags-``) for multi-value fields. File
fields take ``Upload`` values (the multipart request spec, :mod:`roost.apis.graphql.uploads`);
``docs_remove`` names stored files to remove.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLNullableInputType,
    GraphQLString,
)

from roost.apis.graphql.names import graphql_name
from roost.apis.graphql.uploads import UPLOAD
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field

GEO_POINT_INPUT = GraphQLInputObjectType(
    "GeoPointInput", {"lon": GraphQLInputField(GraphQLNonNull(GraphQLFloat)), "lat": GraphQLInputField(GraphQLNonNull(GraphQLFloat))}
)
_SKIPPED = frozenset({"autodate"})
#: modifier -> (suffix for numbers, suffix for lists, REST key pattern)
_MODIFIERS = {"+": ("_add", "_append", "{}+"), "^": ("", "_prepend", "+{}"), "-": ("_subtract", "_remove", "{}-")}


def input_types(coll: Collection, type_name: str, json: GraphQLNullableInputType) -> tuple[GraphQLInputObjectType, GraphQLInputObjectType, dict[str, str]]:
    """The create and update input types of ``coll`` and input field name -> REST body key."""
    keys: list[tuple[str, str, GraphQLNullableInputType, bool]] = []  # (body key, base name, type, required)
    for f in coll.fields:
        if f.type in _SKIPPED or (f.system and f.hidden):
            continue
        kind = _input_type(f, json)
        keys.append((f.name, f.name, kind, bool(getattr(f, "required", False)) and not f.system))
        for modifier, (number, listed, pattern) in _MODIFIERS.items():
            suffix = number if f.type == "number" else listed if f.is_multiple() else ""
            if suffix and modifier in f.MODIFIERS:
                element = kind.of_type if isinstance(kind, GraphQLList) else kind
                if f.type == "file" and modifier == "-":  # removes stored files by name
                    element = GraphQLNonNull(GraphQLString)
                keys.append((pattern.format(f.name), f.name + suffix, GraphQLList(element) if f.is_multiple() else kind, False))
    if coll.is_auth:
        keys += [(k, k, GraphQLString, False) for k in ("passwordConfirm", "oldPassword")]
    names = _unique([graphql_name(base) for _, base, _, _ in keys])
    create = {n: GraphQLInputField(GraphQLNonNull(kind) if required else kind) for n, (_, _, kind, required) in zip(names, keys, strict=True)}
    update = {n: GraphQLInputField(kind) for n, (_, _, kind, _) in zip(names, keys, strict=True)}
    body_keys = {n: key for n, (key, _, _, _) in zip(names, keys, strict=True)}
    return (GraphQLInputObjectType(type_name + "CreateInput", create), GraphQLInputObjectType(type_name + "UpdateInput", update), body_keys)


def _unique(names: list[str]) -> list[str]:
    used: set[str] = set()
    out = []
    for name in names:
        while name in used:
            name += "_"
        used.add(name)
        out.append(name)
    return out


def _input_type(f: Field, json: GraphQLNullableInputType) -> GraphQLNullableInputType:
    if f.type == "number":
        return GraphQLFloat
    if f.type == "bool":
        return GraphQLBoolean
    if f.type == "geoPoint":
        return GEO_POINT_INPUT
    if f.type == "file":
        return GraphQLList(GraphQLNonNull(UPLOAD)) if f.is_multiple() else UPLOAD
    if f.type in ("json",) or f.type not in ("text", "email", "url", "editor", "date", "select", "relation", "password"):
        return json
    return GraphQLList(GraphQLNonNull(GraphQLString)) if f.is_multiple() else GraphQLString


def body_of(values: dict[str, Any], body_keys: dict[str, str]) -> dict[str, Any]:
    """The REST body a typed input stands for."""
    return {body_keys[name]: value for name, value in values.items()}
