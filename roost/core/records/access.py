"""Rule checks of the record pipeline's request level: does this caller's rule accept a record?

A stored record is checked with one ``SELECT 1 ... WHERE id = ? AND (rule)``; a record that does
not exist yet (a create) is checked against a one-row literal table holding its values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.core.db.facade import Connection, quote_ident
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.rules.engine import compile_condition
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App


async def rule_matches_stored(
    app: App,
    coll: Collection,
    record_id: str,
    rule: str,
    info: RequestInfo,
    conn: Connection | None = None,
) -> bool:
    """Does the stored record ``record_id`` satisfy ``rule`` for this caller?"""
    codec = codec_for(coll, app.dialect)
    where, params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    sql = f'SELECT 1 FROM {codec.table} AS "_r" WHERE "_r"."id" = :_rid AND ({where})'
    params["_rid"] = record_id
    row = await (conn.fetch_one(sql, params) if conn else app.db.fetch_one(sql, params))
    return row is not None


async def rule_matches_new(
    app: App, coll: Collection, record: Record, rule: str, info: RequestInfo
) -> bool:
    """Evaluate a create rule against a virtual row built from the submitted record."""
    codec = codec_for(coll, app.dialect)
    cols, params = [], {}
    for i, field in enumerate(coll.fields):
        value = record.get(field.name)
        if field.name == "verified":
            value = False  # a create rule must not be satisfiable by self-verification
        if field.type == "password":
            value = ""
        params[f"_v{i}"] = field.to_db(value)
        cols.append(
            f"{codec.typed_placeholder(field.name, f'_v{i}')} AS {quote_ident(field.name, app.dialect)}"
        )
    where, rule_params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    params.update(rule_params)
    sql = f'SELECT 1 FROM (SELECT {", ".join(cols)}) AS "_r" WHERE ({where})'
    return (await app.db.fetch_one(sql, params)) is not None


async def manages(
    app: App, coll: Collection, record_id: str | None, record: Record, info: RequestInfo
) -> bool:
    """Does the caller manage this auth record (superusers always do, others through manageRule)?"""
    if info.is_superuser:
        return True
    rule = coll.rule("manageRule") if coll.is_auth else None
    if not rule or info.auth is None:
        return False
    if record_id is None:
        return await rule_matches_new(app, coll, record, rule, info)
    return await rule_matches_stored(app, coll, record_id, rule, info)
