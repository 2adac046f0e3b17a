"""Rule checks of the record pipeline's request level: does this caller's rule accept a record?

A stored record is checked with one ``SELECT 1 ... WHERE id = ? AND (rule)``; a record that does
not exist yet (a create) is checked against a one-row literal table holding its values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.db.facade import Connection, quote_ident
from roost.core.errors import FieldError
from roost.core.events import RequestInfo
from roost.core.records.codec import Record, codec_for
from roost.core.rules.engine import compile_condition, new_binder
from roost.core.schema.collection import Collection
from roost.tools.filter import Binder

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
    where, rule_params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    row, params = _virtual_row(app, coll, record, for_create=True)
    params.update(rule_params)
    sql = f'SELECT 1 FROM ({row}) AS "_r" WHERE ({where})'
    return (await app.db.fetch_one(sql, params)) is not None


def _virtual_row(
    app: App, coll: Collection, record: Record, *, for_create: bool
) -> tuple[str, dict[str, Any]]:
    codec = codec_for(coll, app.dialect)
    cols, params = [], {}
    for i, field in enumerate(coll.fields):
        value = record.get(field.name)
        if field.name == "verified" and for_create:
            value = False  # a create rule must not be satisfiable by self-verification
        if field.type == "password":
            value = ""
        params[f"_v{i}"] = field.to_db(value)
        cols.append(
            f"{codec.typed_placeholder(field.name, f'_v{i}')} AS {quote_ident(field.name, app.dialect)}"
        )
    return f"SELECT {', '.join(cols)}", params


async def unreadable_fields(
    app: App, coll: Collection, records: list[Record], info: RequestInfo
) -> dict[str, frozenset[str]]:
    """Per record id, the fields of ``coll`` whose ``readRule`` the caller fails.

    One query evaluates every field rule for all stored ``records``; a record no longer stored
    (a realtime delete event) is checked against a literal row of its values.
    """
    rules = codec_for(coll, app.dialect).read_rules
    if info.is_superuser or not rules or not records:
        return {}
    binder = new_binder(app, prefix="fr")
    cases = _rule_columns(app, coll, rules, info, binder)
    ids = list(dict.fromkeys(str(r.get("id", "")) for r in records))
    marks = ", ".join(binder.bind(record_id) for record_id in ids)
    table = codec_for(coll, app.dialect).table
    sql = f'SELECT "_r"."id" AS "id", {", ".join(cases)} FROM {table} AS "_r" WHERE "_r"."id" IN ({marks})'
    names = list(rules)
    out: dict[str, frozenset[str]] = {}
    for row in await app.db.fetch_all(sql, binder.params):
        out[str(row["id"])] = frozenset(n for i, n in enumerate(names) if not row[f"_f{i}"])
    for record in records:
        record_id = str(record.get("id", ""))
        if record_id not in out:
            out[record_id] = await _unreadable_unstored(app, coll, record, info, rules)
    return out


def _rule_columns(
    app: App, coll: Collection, rules: dict[str, str], info: RequestInfo, binder: Binder
) -> list[str]:
    """One ``_f<i>`` column per field rule: 1 where the caller passes it."""
    cases = []
    for i, rule in enumerate(rules.values()):
        where, _ = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True, binder=binder)
        cases.append(f"CASE WHEN ({where}) THEN 1 ELSE 0 END AS {quote_ident(f'_f{i}', app.dialect)}")
    return cases


async def _unreadable_unstored(
    app: App, coll: Collection, record: Record, info: RequestInfo, rules: dict[str, str]
) -> frozenset[str]:
    names = list(rules)
    binder = new_binder(app, prefix="fr")
    cases = _rule_columns(app, coll, rules, info, binder)
    row_sql, params = _virtual_row(app, coll, record, for_create=False)
    params.update(binder.params)
    found = await app.db.fetch_one(f'SELECT {", ".join(cases)} FROM ({row_sql}) AS "_r"', params)
    if found is None:  # pragma: no cover - a literal row always yields one row
        return frozenset(names)
    return frozenset(n for i, n in enumerate(names) if not found[f"_f{i}"])


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


#: the field error of a value sent for a field whose writeRule the caller fails
WRITE_FORBIDDEN = "validation_field_write_forbidden"


async def write_denied(
    app: App,
    coll: Collection,
    record_id: str | None,
    record: Record,
    sent: set[str],
    info: RequestInfo,
) -> dict[str, FieldError]:
    """Field errors for the ``sent`` fields whose ``writeRule`` the caller fails.

    On create the rule sees the submitted values; on update the stored record, with the new
    values under ``@request.body`` (as the collection's own rules do). Superusers bypass.
    """
    rules = codec_for(coll, app.dialect).write_rules
    if info.is_superuser or not rules or not sent:
        return {}
    errors: dict[str, FieldError] = {}
    for name, rule in rules.items():
        if name not in sent:
            continue
        if record_id is None:
            allowed = await rule_matches_new(app, coll, record, rule, info)
        else:
            allowed = await rule_matches_stored(app, coll, record_id, rule, info)
        if not allowed:
            errors[name] = FieldError(WRITE_FORBIDDEN, "You are not allowed to change this field.")
    return errors
