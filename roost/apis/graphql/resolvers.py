"""Resolvers: each top-level field is one call of the record pipeline REST uses.

A query asks core for the records (rules apply there), then presents them through
:func:`~roost.core.records.present.present_records` with an ``expand`` worked out from the
selection set, so relations come from core's batched expand (one query per relation and level,
the relation's view rule applied) and hidden fields are hidden exactly as REST hides them. The
record fields below only read the presented JSON.

Each call gets its own copy of the caller's :class:`RequestInfo` with the method and query REST
would have seen for the same operation, so rules that read ``@request.method`` or
``@request.query.*`` decide as they do for the equivalent REST request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote

import orjson
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from roost.apis.graphql.inputs import body_of
from roost.apis.graphql.uploads import split_uploads
from roost.apis.middleware.ratelimit import check_batch_item
from roost.core.app import App
from roost.core.errors import BadRequest
from roost.core.events import RequestInfo
from roost.core.records import requests as records
from roost.core.records.aggregate import DEFAULT_PER_PAGE, AggregateQuery, aggregate_records
from roost.core.records.files import Upload
from roost.core.records.present import present_records
from roost.core.records.queries import ListQuery
from roost.core.schema.collection import Collection


@dataclass(frozen=True)
class Link:
    """A relation field of a record type: the ``expand`` key that fills it and its target."""

    key: str
    target: Collection
    many: bool


@dataclass
class Context:
    """What every resolver of one GraphQL request shares."""

    app: App
    info: RequestInfo
    #: where file URLs point (``http://host:port``)
    base_url: str
    #: record type name -> field name -> relation (``Built.links``)
    links: dict[str, dict[str, Link]]
    #: the WebSocket connection serving subscriptions (None over HTTP)
    stream: Stream | None = None
    #: the caller's raw auth token ("" without one), for ``authRefresh``
    token: str = ""
    #: records this request has returned so far (``Config.graphql_max_records``)
    returned: int = 0


class Stream(Protocol):
    """Where a subscription gets its events: one realtime subscription key, one queue."""

    async def listen(self, key: str) -> asyncio.Queue[bytes]: ...

    def unlisten(self, key: str, queue: asyncio.Queue[bytes]) -> None: ...


#: what graphql-core hands every resolver
Info = GraphQLResolveInfo[Context]


def context(gi: Info) -> Context:
    return gi.context


def caller(gi: Info, method: str, query: dict[str, str] | None = None) -> RequestInfo:
    return replace(context(gi).info, method=method, query=query or {}, body={})


async def list_(coll: Collection, _root: Any, gi: Info, **args: Any) -> dict[str, Any]:
    query = ListQuery(
        page=args.get("page") or 1, per_page=args.get("perPage") or 30, sort=args.get("sort") or "",
        filter=args.get("filter") or "", skip_total=bool(args.get("skipTotal")), cursor=args.get("cursor"),
        search=args.get("search") or "",
    )  # fmt: skip
    rest = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in args.items() if v is not None}
    info = caller(gi, "GET", rest)
    ctx = context(gi)
    await check_batch_item(ctx.app, info, coll, "list")
    page = await records.list_records(ctx.app, coll, query, info)
    items = await _present(gi, coll, page.items, info, through="items")
    return {"page": page.page, "perPage": page.per_page, "totalItems": page.total_items,
            "totalPages": page.total_pages, "items": items, "nextCursor": page.next_cursor}  # fmt: skip


async def aggregate(coll: Collection, _root: Any, gi: Info, **args: Any) -> dict[str, Any]:
    query = AggregateQuery(
        group_by=args.get("groupBy") or "", fields=args.get("fields") or "count", filter=args.get("filter") or "",
        sort=args.get("sort") or "", page=args.get("page") or 1, per_page=args.get("perPage") or DEFAULT_PER_PAGE,
        skip_total=bool(args.get("skipTotal")),
    )  # fmt: skip
    rest = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in args.items() if v is not None}
    info = caller(gi, "GET", rest)
    await check_batch_item(context(gi).app, info, coll, "list")
    groups = await aggregate_records(context(gi).app, coll, query, info)
    return {"page": groups.page, "perPage": groups.per_page, "totalItems": groups.total_items,
            "totalPages": groups.total_pages, "items": groups.items}  # fmt: skip


async def view(coll: Collection, _root: Any, gi: Info, id: str) -> dict[str, Any]:
    info = caller(gi, "GET")
    await check_batch_item(context(gi).app, info, coll, "view")
    record = await records.view_record(context(gi).app, coll, id, info)
    return (await _present(gi, coll, [record], info))[0]


async def create(coll: Collection, body_keys: dict[str, str], _root: Any, gi: Info, **args: Any) -> dict[str, Any]:
    info = caller(gi, "POST")
    await check_batch_item(context(gi).app, info, coll, "create")
    body, files = _body(args, body_keys)
    record = await records.create_record(context(gi).app, coll, body, info, files)
    return (await _present(gi, coll, [record], info))[0]


async def update(coll: Collection, body_keys: dict[str, str], _root: Any, gi: Info, id: str, **args: Any) -> dict[str, Any]:
    info = caller(gi, "PATCH")
    await check_batch_item(context(gi).app, info, coll, "update")
    body, files = _body(args, body_keys)
    record = await records.update_record(context(gi).app, coll, id, body, info, files)
    return (await _present(gi, coll, [record], info))[0]


async def delete(coll: Collection, _root: Any, gi: Info, id: str) -> bool:
    info = caller(gi, "DELETE")
    await check_batch_item(context(gi).app, info, coll, "delete")
    await records.delete_record(context(gi).app, coll, id, info)
    return True


def _body(args: dict[str, Any], body_keys: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[Upload]]]:
    """The REST body of a create or update (``data`` as it is, or the typed ``input`` translated)
    and its uploads by body key, which core checks against the file fields as for REST."""
    data, typed = args.get("data"), args.get("input")
    if (data is None) == (typed is None):
        raise BadRequest("Give either data or input.")
    if typed is not None:
        data = body_of(typed, body_keys)
    if not isinstance(data, dict):
        raise BadRequest("The data argument must be a JSON object.")
    return split_uploads(data)


async def subscribe(coll: Collection, _root: Any, gi: Info, id: str | None = None) -> AsyncIterator[Any]:
    """The events of ``coll`` (or of one record) through the realtime core, which checks the
    subscriber's view rule for every event and presents the record with the selected relations
    expanded, exactly as for an SSE subscriber of the same topic and ``expand`` option."""
    stream = context(gi).stream
    if stream is None:
        raise BadRequest("Subscriptions are served over WebSocket (graphql-transport-ws).")
    key = f"{coll.name}/{id}" if id else coll.name
    expand = expand_of(gi, through="record")
    if expand:
        key += "?options=" + quote(orjson.dumps({"query": {"expand": expand}}).decode())
    queue = await stream.listen(key)
    return _events(stream, key, queue)


async def _events(stream: Stream, key: str, queue: asyncio.Queue[bytes]) -> AsyncIterator[Any]:
    try:
        while True:
            yield orjson.loads(await queue.get())
    finally:
        stream.unlisten(key, queue)


def event(source: Any, _gi: Info, **_args: Any) -> Any:
    return source


async def _present(gi: Info, coll: Collection, items: list[Any], info: RequestInfo,
                   through: str = "") -> list[dict[str, Any]]:  # fmt: skip
    ctx = context(gi)
    out = await present_records(ctx.app, coll, items, info, expand=expand_of(gi, through))
    _count_returned(ctx, out)
    return out


def _count_returned(ctx: Context, presented: list[dict[str, Any]]) -> None:
    """Add ``presented`` (and what it expands) to the request's count; past the limit, 400."""
    stack, count = list(presented), 0
    while stack:
        record = stack.pop()
        count += 1
        for value in (record.get("expand") or {}).values():
            stack.extend(value if isinstance(value, list) else [value])
    ctx.returned += count
    limit = ctx.app.config.graphql_max_records
    if limit and ctx.returned > limit:
        raise BadRequest(f"The request would return more than {limit} records; ask for fewer or smaller pages.")


def expand_of(gi: Info, through: str = "") -> str:
    """The ``expand`` value that fills every relation the selection asks for."""
    selections: list[SelectionSetNode] = [n.selection_set for n in gi.field_nodes if n.selection_set]
    if through:
        selections = [f.selection_set for f in _fields(gi, selections) if f.name.value == through and f.selection_set]
    paths: set[str] = set()
    _expand_paths(gi, context(gi).links, _record_type_name(gi, through), selections, "", paths, 0)
    return ",".join(sorted(paths))


def _record_type_name(gi: Info, through: str) -> str:
    kind: Any = gi.return_type
    while hasattr(kind, "of_type"):
        kind = kind.of_type
    if through:
        kind = kind.fields[through].type
        while hasattr(kind, "of_type"):
            kind = kind.of_type
    return str(kind.name)


#: core's expand follows at most this many levels
_MAX_LEVELS = 6


def _expand_paths(gi: Info, links: dict[str, dict[str, Link]], type_name: str,
                  selections: list[SelectionSetNode], prefix: str, out: set[str], level: int) -> None:  # fmt: skip
    """Collect the dotted expand paths the selection asks for, relation by relation."""
    if level >= _MAX_LEVELS:
        return
    here = links.get(type_name, {})
    nested: dict[str, list[SelectionSetNode]] = {}
    for node in _fields(gi, selections):
        link = here.get(node.name.value)
        if link is not None and node.selection_set is not None:
            nested.setdefault(node.name.value, []).append(node.selection_set)
    for name, sets in nested.items():
        link = here[name]
        path = prefix + link.key
        out.add(path)
        target_type = _type_of(gi, type_name, name)
        _expand_paths(gi, links, target_type, sets, path + ".", out, level + 1)


def _type_of(gi: Info, type_name: str, field_name: str) -> str:
    kind: Any = gi.schema.get_type(type_name)
    kind = kind.fields[field_name].type
    while hasattr(kind, "of_type"):
        kind = kind.of_type
    return str(kind.name)


def _fields(gi: Info, selections: Iterable[SelectionSetNode]) -> list[FieldNode]:
    """The field nodes of ``selections``, fragments flattened (each fragment visited once)."""
    out: list[FieldNode] = []
    seen: set[str] = set()
    stack = list(selections)
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FieldNode):
                out.append(node)
            elif isinstance(node, InlineFragmentNode):
                stack.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = gi.fragments.get(node.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)
    return out


# ----- record fields: read the presented JSON ---------------------------------------------------
def key(name: str) -> Callable[..., Any]:
    def resolve(source: dict[str, Any], _gi: Info) -> Any:
        return source.get(name)

    return resolve


def related(name: str, *, many: bool) -> Callable[..., Any]:
    def resolve(source: dict[str, Any], _gi: Info) -> Any:
        value = (source.get("expand") or {}).get(name)
        if many:
            return value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        return value[0] if isinstance(value, list) and value else value if isinstance(value, dict) else None

    return resolve


def file_urls(name: str, *, many: bool) -> Callable[..., Any]:
    def resolve(source: dict[str, Any], gi: Info, thumb: str | None = None) -> Any:
        value = source.get(name)
        prefix = f"{context(gi).base_url}/api/files/{quote(str(source.get('collectionId', '')))}/{quote(str(source.get('id', '')))}/"
        suffix = f"?thumb={quote(thumb)}" if thumb else ""
        names = value if isinstance(value, list) else [value] if value else []
        urls = [prefix + quote(str(n)) + suffix for n in names]
        return urls if many else (urls[0] if urls else None)

    return resolve
