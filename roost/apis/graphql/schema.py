"""The GraphQL schema, built at run time from the collections.

Each collection becomes an object type ``<Name>Record`` whose fields mirror the record JSON that
REST returns, a page type ``<Name>RecordPage``, the queries ``<name>(id)`` and ``<name>List(...)``
and, for base and auth collections, the mutations ``create<Name>``, ``update<Name>`` and
``delete<Name>`` (plus the logins of :mod:`roost.apis.graphql.auth` for auth collections), and the subscription ``<name>(id)`` of ``<Name>RecordEvent``s. Relation fields (with a ``<field>Id`` sibling holding the stored ids) (and ``<collection>_via_<field>`` back-relations) are object
fields; they are filled by core's expand (see :mod:`roost.apis.graphql.resolvers`), so a type
only records which expand key serves which field (:class:`Link`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    ValueNode,
    print_schema,
    value_from_ast_untyped,
)

from roost.apis.graphql import auth, resolvers
from roost.apis.graphql.batch import batch
from roost.apis.graphql.inputs import input_types
from roost.apis.graphql.names import collection_names, field_names, upper_first
from roost.apis.graphql.resolvers import Link
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field


def _literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


JSON = GraphQLScalarType(
    "JSON",
    description="Any JSON value.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
    parse_literal=_literal,
)
GEO_POINT = GraphQLObjectType(
    "GeoPoint",
    {"lon": GraphQLField(GraphQLFloat), "lat": GraphQLField(GraphQLFloat)},
    description="A geographic point (longitude, latitude).",
)
_SCALARS: dict[str, GraphQLOutputType] = {
    "text": GraphQLString, "email": GraphQLString, "url": GraphQLString, "editor": GraphQLString,
    "date": GraphQLString, "autodate": GraphQLString, "number": GraphQLFloat, "bool": GraphQLBoolean,
    "json": JSON, "geoPoint": GEO_POINT, "select": GraphQLString,
}  # fmt: skip
_STR = GraphQLString
_NON_NULL_INT = GraphQLNonNull(GraphQLInt)


@dataclass
class Built:
    """A schema and what the resolvers need to know about it."""

    schema: GraphQLSchema
    #: record type name -> GraphQL field name -> the relation behind it
    links: dict[str, dict[str, Link]] = field(default_factory=dict)
    #: prepared documents of this schema (``roost.apis.graphql.document.prepare``)
    documents: OrderedDict[Any, Any] = field(default_factory=OrderedDict)


def build_schema(collections: list[Collection]) -> Built:
    """The schema for ``collections`` (deterministic: the same collections give the same SDL)."""
    names = collection_names(collections)
    by_id = {c.id: c for c in collections}
    built = Built(GraphQLSchema())
    types: dict[str, GraphQLObjectType] = {}
    for coll in collections:
        types[coll.id] = _record_type(coll, names, by_id, types, built)
    query: dict[str, GraphQLField] = {}
    mutation: dict[str, GraphQLField] = {}
    subscription: dict[str, GraphQLField] = {}
    for coll in sorted(collections, key=lambda c: names[c.id]):
        base, record = names[coll.id], types[coll.id]
        query[base] = GraphQLField(record, {"id": GraphQLArgument(GraphQLNonNull(_STR))},
                                   resolve=partial(resolvers.view, coll))  # fmt: skip
        query[base + "List"] = GraphQLField(
            GraphQLNonNull(_page_type(record)), _LIST_ARGS, resolve=partial(resolvers.list_, coll)
        )
        query[base + "Aggregate"] = GraphQLField(
            GraphQLNonNull(AGGREGATE_PAGE), _AGGREGATE_ARGS, resolve=partial(resolvers.aggregate, coll),
            description="Groups and aggregates the records the caller may list, as GET /api/collections/{c}/aggregate.",
        )
        if not coll.is_view:
            mutation.update(_mutations(coll, upper_first(base), record))
        if coll.is_auth:
            mutation.update(_auth_mutations(coll, upper_first(base), record))
        subscription[base] = GraphQLField(
            _event_type(record), {"id": GraphQLArgument(_STR, description="Only this record's events.")},
            subscribe=partial(resolvers.subscribe, coll), resolve=resolvers.event,
        )
    mutation["batch"] = BATCH
    built.schema = GraphQLSchema(
        GraphQLObjectType("Query", query or {"_empty": GraphQLField(_STR)}),
        GraphQLObjectType("Mutation", mutation),
        GraphQLObjectType("Subscription", subscription) if subscription else None,
        types=[JSON],
    )
    return built


_LIST_ARGS = {
    "filter": GraphQLArgument(_STR), "sort": GraphQLArgument(_STR), "page": GraphQLArgument(GraphQLInt),
    "perPage": GraphQLArgument(GraphQLInt), "skipTotal": GraphQLArgument(GraphQLBoolean),
    "cursor": GraphQLArgument(_STR),
    "search": GraphQLArgument(_STR, description="Full-text search over the collection's search index (ranked unless sorted)."),
}  # fmt: skip


def _mutations(coll: Collection, name: str, record: GraphQLObjectType) -> dict[str, GraphQLField]:
    create_input, update_input, body_keys = input_types(coll, record.name.removesuffix("Record"), JSON)
    data = GraphQLArgument(JSON, description="The request body as REST takes it (modifiers such as `n+` included); or use `input`.")
    record_id = GraphQLArgument(GraphQLNonNull(_STR))
    create, update = partial(resolvers.create, coll, body_keys), partial(resolvers.update, coll, body_keys)
    return {
        "create" + name: GraphQLField(record, {"data": data, "input": GraphQLArgument(create_input)}, resolve=create),
        "update" + name: GraphQLField(record, {"id": record_id, "data": data, "input": GraphQLArgument(update_input)}, resolve=update),
        "delete" + name: GraphQLField(GraphQLBoolean, {"id": record_id}, resolve=partial(resolvers.delete, coll)),
    }


def _auth_mutations(coll: Collection, name: str, record: GraphQLObjectType) -> dict[str, GraphQLField]:
    answer = GraphQLObjectType(record.name + "Auth", {
        "token": GraphQLField(_STR, description="The auth token (null for a cookie session's refresh)."),
        "record": GraphQLField(record),
        "meta": GraphQLField(JSON, description="OAuth2 only: what the provider said about the user."),
    })  # fmt: skip
    required, optional = GraphQLArgument(GraphQLNonNull(_STR)), GraphQLArgument(_STR)
    mfa = GraphQLArgument(_STR, description="The `mfaId` a first login's `mfa_required` error gave.")
    password = {"identity": required, "password": required, "identityField": optional, "mfaId": mfa}
    otp = {"otpId": required, "password": required, "mfaId": mfa}
    oauth2 = {"provider": required, "code": required, "codeVerifier": optional, "redirectURL": optional,
              "createData": GraphQLArgument(JSON), "mfaId": mfa}  # fmt: skip
    return {
        f"authWith{name}Password": GraphQLField(answer, password, resolve=partial(auth.auth_with_password, coll)),
        f"request{name}OTP": GraphQLField(_STR, {"email": required}, resolve=partial(auth.request_otp, coll),
                                          description="Mails a one-time password; the `otpId` to log in with."),
        f"authWith{name}OTP": GraphQLField(answer, otp, resolve=partial(auth.auth_with_otp, coll)),
        f"authWith{name}OAuth2Code": GraphQLField(answer, oauth2, resolve=partial(auth.auth_with_oauth2_code, coll)),
        f"authRefresh{name}": GraphQLField(answer, resolve=partial(auth.auth_refresh, coll)),
    }  # fmt: skip


_BATCH_REQUEST = GraphQLInputObjectType("BatchRequestInput", {
    "method": GraphQLInputField(GraphQLNonNull(_STR), description="POST, PUT, PATCH or DELETE"),
    "url": GraphQLInputField(GraphQLNonNull(_STR), description="`/api/collections/<collection>/records[/<id>][?expand=...]`"),
    "headers": GraphQLInputField(JSON), "body": GraphQLInputField(JSON),
})  # fmt: skip
_BATCH_RESULT = GraphQLObjectType("BatchResult", {
    "status": GraphQLField(_NON_NULL_INT), "body": GraphQLField(JSON, description="The record as REST answers it."),
})  # fmt: skip
BATCH = GraphQLField(
    GraphQLNonNull(GraphQLList(GraphQLNonNull(_BATCH_RESULT))),
    {"requests": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLNonNull(_BATCH_REQUEST))))},
    resolve=batch, description="REST's `/api/batch`: the writes in one transaction, all or nothing.",
)  # fmt: skip


_AGGREGATE_ARGS = {
    "groupBy": GraphQLArgument(_STR, description="Comma list of fields, a date field may take a bucket: `created:month`."),
    "fields": GraphQLArgument(_STR, description="Comma list of `count`, `sum(f)`, `avg(f)`, `min(f)`, `max(f)` (default `count`)."),
    "filter": GraphQLArgument(_STR), "sort": GraphQLArgument(_STR), "page": GraphQLArgument(GraphQLInt),
    "perPage": GraphQLArgument(GraphQLInt), "skipTotal": GraphQLArgument(GraphQLBoolean),
}  # fmt: skip
#: one type for every collection: a group's keys are the groupBy and fields entries as sent
AGGREGATE_PAGE = GraphQLObjectType("AggregatePage", {
    "page": GraphQLField(_NON_NULL_INT), "perPage": GraphQLField(_NON_NULL_INT),
    "totalItems": GraphQLField(_NON_NULL_INT), "totalPages": GraphQLField(_NON_NULL_INT),
    "items": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(JSON))),
                          description="One object per group, keyed by each groupBy and fields entry as sent."),
})  # fmt: skip


def _event_type(record: GraphQLObjectType) -> GraphQLObjectType:
    return GraphQLObjectType(record.name + "Event", {
        "action": GraphQLField(GraphQLNonNull(_STR), description="create, update or delete"),
        "record": GraphQLField(record),
    })  # fmt: skip


def _page_type(record: GraphQLObjectType) -> GraphQLObjectType:
    return GraphQLObjectType(record.name + "Page", {
        "page": GraphQLField(_NON_NULL_INT), "perPage": GraphQLField(_NON_NULL_INT),
        "totalItems": GraphQLField(_NON_NULL_INT), "totalPages": GraphQLField(_NON_NULL_INT),
        "items": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(record)))),
        "nextCursor": GraphQLField(_STR, description="The next page's cursor when `cursor` was given."),
    })  # fmt: skip


def _record_type(
    coll: Collection,
    names: dict[str, str],
    by_id: dict[str, Collection],
    types: dict[str, GraphQLObjectType],
    built: Built,
) -> GraphQLObjectType:
    type_name = upper_first(names[coll.id]) + "Record"
    links: dict[str, Link] = built.links.setdefault(type_name, {})

    def fields() -> dict[str, GraphQLField]:
        exported = [f for f in coll.fields if f.type != "password"]
        keys = field_names([*(f.name for f in exported), "collectionId", "collectionName"])
        out = {keys[f.name]: _field(f, by_id, types, links, keys[f.name]) for f in exported}
        out[keys["collectionId"]] = GraphQLField(_STR, resolve=resolvers.key("collectionId"))
        out[keys["collectionName"]] = GraphQLField(_STR, resolve=resolvers.key("collectionName"))
        # ``<relation>Id``: the stored id(s), as REST returns them without ``expand``
        relations = [f for f in exported if f.type == "relation"]
        ids = field_names([f.name + "Id" for f in relations], out)
        for f in relations:
            kind = GraphQLList(GraphQLNonNull(_STR)) if f.is_multiple() else _STR
            out[ids[f.name + "Id"]] = GraphQLField(kind, resolve=resolvers.key(f.name))
        back = field_names([key for key, _ in _back_relations(coll, by_id)], out)
        for key, source in _back_relations(coll, by_id):
            links[back[key]] = Link(key, source, many=True)
            out[back[key]] = GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(types[source.id]))),
                resolve=resolvers.related(key, many=True),
            )
        return {k: out[k] for k in out if not k.startswith("__")}

    return GraphQLObjectType(type_name, fields, description=f"A record of the `{coll.name}` collection.")


def _back_relations(coll: Collection, by_id: dict[str, Collection]) -> list[tuple[str, Collection]]:
    """``<collection>_via_<field>`` keys of the relation fields that point at ``coll``."""
    out = []
    for other in sorted(by_id.values(), key=lambda c: c.name):
        for f in other.fields:
            if f.type == "relation" and getattr(f, "collectionId", "") == coll.id:
                out.append((f"{other.name}_via_{f.name}", other))
    return out


def _field(f: Field, by_id: dict[str, Collection], types: dict[str, GraphQLObjectType],
           links: dict[str, Link], gql_name: str) -> GraphQLField:  # fmt: skip
    many = f.is_multiple()
    if f.type == "relation":
        target = by_id.get(getattr(f, "collectionId", ""))
        if target is not None:
            links[gql_name] = Link(f.name, target, many)
            record = types[target.id]
            listed = GraphQLNonNull(GraphQLList(GraphQLNonNull(record)))
            return GraphQLField(listed if many else record, resolve=resolvers.related(f.name, many=many))
        return GraphQLField(JSON, resolve=resolvers.key(f.name))
    if f.type == "file":
        kind = GraphQLList(GraphQLNonNull(_STR)) if many else _STR
        thumb = GraphQLArgument(_STR, description="A thumb size such as `100x100`, as `?thumb=` takes it.")
        return GraphQLField(kind, {"thumb": thumb}, resolve=resolvers.file_urls(f.name, many=many),
                            description="The file URL(s).")  # fmt: skip
    scalar = _SCALARS.get(f.type, JSON)
    if many and f.type == "select":
        scalar = GraphQLList(GraphQLNonNull(_STR))
    return GraphQLField(scalar, resolve=resolvers.key(f.name))


def schema_sdl(collections: list[Collection]) -> str:
    """The schema of ``collections`` in GraphQL's SDL (``roost graphql schema``)."""
    return print_schema(build_schema(collections).schema)
