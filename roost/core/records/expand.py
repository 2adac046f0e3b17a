"""``?expand=``: relations and back-relations, one batched query per relation and level.

Expanded records are attached under the private key ``@expand`` as ``{name: (collection, value)}``
where value is a record or a list of records. Targets the caller may not view are left out, and
expand problems are never reported to the caller (PocketBase behaviour), with two exceptions that
protect the server: a query past the query timeout, and an expand tree holding more records than
``Config.expand_limit`` (a record counts once per place it appears in the response, so six levels
of fan-out cannot grow a response to gigabytes). Both answer 400 rather than a silently partial
expand.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from roost.core.collections.sync import has_unique_index, natural_order
from roost.core.db.facade import QueryTimeout, json_array_contains, quote_ident
from roost.core.errors import BadRequest, RoostError
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.rules.engine import compile_condition
from roost.core.rules.superuser_roles import superuser_reaches
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

MAX_DEPTH = 6
ALIAS = '"_r"'
MAX_BACK_RELATIONS = 1000
log = logging.getLogger("roost.expand")


def parse_expand(text: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in text.split(","):
        node = tree
        for part in [p.strip() for p in path.strip().split(".") if p.strip()][:MAX_DEPTH]:
            node = node.setdefault(part, {})
    return tree


async def expand_records(app: App, coll: Collection, records: list[Record], expand: str, info: RequestInfo) -> None:
    tree = {k: v for k, v in parse_expand(expand).items() if _expandable(app, coll, k)}
    if not tree or not records:
        return
    for record in records:
        record.setdefault("@expand", {})
    await _expand_level(app, coll, records, tree, info)
    limit = app.config.expand_limit
    if limit and expanded_size(records) > limit:
        raise BadRequest(
            f"The expand would return more than {limit} related records; expand fewer relations or ask for a smaller page."
        )


def expanded_size(records: list[Record]) -> int:
    """Expanded records a response holds, counting a record once per place it appears."""
    memo: dict[int, int] = {}

    def size(record: Record) -> int:
        key = id(record)
        if key not in memo:
            total = 1
            for _, value in record.get("@expand", {}).values():
                total += sum(size(r) for r in value) if isinstance(value, list) else size(value)
            memo[key] = total
        return memo[key]

    return sum(size(r) for r in records) - len(records)


def _expandable(app: App, coll: Collection, key: str) -> bool:
    """Is ``key`` a relation field or a ``<collection>_via_<field>`` back-relation of ``coll``?"""
    field = coll.get_field(key)
    if field is not None:
        return field.type == "relation"
    target_name, _, back_name = key.partition("_via_")
    target = app.collections.get(target_name) if back_name else None
    back = target.get_field(back_name) if target else None
    return back is not None and back.type == "relation" and getattr(back, "collectionId", "") == coll.id


async def _expand_level(app: App, coll: Collection, records: list[Record], tree: dict[str, Any], info: RequestInfo) -> None:
    for key, children in tree.items():
        try:
            target, related = await _fetch_related(app, coll, records, key, info)
        except QueryTimeout:
            raise
        except RoostError as exc:
            log.debug("expand %s.%s skipped: %s", coll.name, key, exc.message)
            continue
        if target is None:
            continue
        if children and related:
            for r in related.values():
                r.setdefault("@expand", {})
            await _expand_level(app, target, list(related.values()), children, info)
        back_index = _back_index(key, related) if coll.get_field(key) is None else {}
        for record in records:
            _attach(coll, record, key, target, related, back_index)


def _back_index(key: str, related: dict[str, Record]) -> dict[Any, list[Record]]:
    """Back-related records by the id they point to: one pass instead of one per parent record."""
    back_name = key.split("_via_", 1)[1]
    index: dict[Any, list[Record]] = {}
    for r in related.values():
        for target_id in dict.fromkeys(_ids(r.get(back_name))):
            index.setdefault(target_id, []).append(r)
    return index


def _attach(
    coll: Collection, record: Record, key: str, target: Collection, related: dict[str, Record], back_index: dict[Any, list[Record]]
) -> None:
    field = coll.get_field(key)
    if field is not None:
        value = record.get(key)
        if isinstance(value, list):
            found = [related[v] for v in value if v in related]
            if found:
                record["@expand"][key] = (target, found)
        elif value and value in related:
            record["@expand"][key] = (target, related[value])
        return
    back_name = key.split("_via_", 1)[1]
    matches = back_index.get(record["id"], [])
    if not matches:
        return
    back = target.get_field(back_name)
    if back is not None and not back.is_multiple() and has_unique_index(target, back_name):
        record["@expand"][key] = (target, matches[0])  # a one-to-one back-relation expands to one record
    else:
        record["@expand"][key] = (target, matches[:MAX_BACK_RELATIONS])


def _ids(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


async def _fetch_related(
    app: App, coll: Collection, records: list[Record], key: str, info: RequestInfo
) -> tuple[Collection | None, dict[str, Record]]:
    field = coll.get_field(key)
    if field is not None:
        if field.type != "relation":
            return None, {}
        target = app.collections.get(getattr(field, "collectionId", ""))
        ids = {v for r in records for v in _ids(r.get(key)) if v}
        if target is None or not ids:
            return target, {}
        names = ", ".join(f":e{n}" for n in range(len(ids)))
        cond = f'"_r"."id" IN ({names})'
        params: dict[str, Any] = {f"e{n}": v for n, v in enumerate(sorted(ids))}
        return target, await _query(app, target, cond, params, info)
    if "_via_" not in key:
        return None, {}
    target_name, back_name = key.split("_via_", 1)
    target = app.collections.get(target_name)
    back = target.get_field(back_name) if target else None
    if target is None or back is None or back.type != "relation" or getattr(back, "collectionId", "") != coll.id:
        return None, {}
    column = f'"_r".{quote_ident(back_name, app.dialect)}'
    back_ids = sorted({r["id"] for r in records})
    params = {f"e{n}": v for n, v in enumerate(back_ids)}
    if back.is_multiple():
        cond = " OR ".join(json_array_contains(column, f"e{n}", app.dialect) for n in range(len(back_ids)))
    else:
        cond = f"{column} IN ({', '.join(f':e{n}' for n in range(len(back_ids)))})"
    return target, await _query(app, target, f"({cond})", params, info)


async def _query(app: App, target: Collection, cond: str, params: dict[str, Any], info: RequestInfo) -> dict[str, Record]:
    if info.is_superuser and not superuser_reaches(info, target):
        return {}
    if not info.is_superuser:
        rule = target.rule("viewRule")
        if rule is None or (info.api_key is not None and not info.api_key.allows(target, "view")):
            return {}
        if rule:
            expand_info = RequestInfo(**{**info.__dict__, "context": "expand"})
            sql, p = compile_condition(app, target, rule, expand_info, '"_r"', allow_hidden=True)
            cond += f" AND ({sql})"
            params.update(p)
    codec = codec_for(target, app.dialect)
    # back-relations come in insertion order, as SQLite's rowid order gives them
    order = "" if target.is_view else natural_order('"_r"', app.dialect)
    rows = await app.db.fetch_all(f'SELECT {codec.select(ALIAS)} FROM {codec.table} AS "_r" WHERE {cond}{order}', params)
    return {row["id"]: codec.decode(row) for row in rows}
