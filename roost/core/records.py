"""The one record write pipeline: load body -> rule -> validate -> transaction -> after-commit.

REST, batch and (later) GraphQL and realtime-triggering writes all call these functions.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.core.body import auth_body_errors, load_body, split_modifier
from roost.core.collections import Collection
from roost.core.db import Connection, UniqueViolation, quote_ident
from roost.core.errors import BadRequest, FieldError, NotFound, ValidationFailed
from roost.core.events import RecordEvent, RequestInfo
from roost.core.fields import ValidationContext
from roost.core.fields.date import now_string
from roost.core.files import (
    Upload,
    apply_uploads,
    delete_removed,
    discard_new,
    record_prefix,
    store_new,
)
from roost.core.record_io import Record, codec_for
from roost.core.rules import compile_condition, require_rule

if TYPE_CHECKING:
    from roost.core.app import App

UNSUPPORTED = "Unsupported collection type."
ID_ALPHABET = string.ascii_lowercase + string.digits


async def publish(app: App, event: RecordEvent) -> None:
    """Hand a committed change to after-commit subscribers (deferred while a batch is open)."""
    if len(app.on_record_after_commit):
        await app.db.after_commit(lambda: app.on_record_after_commit.trigger_safely(event))


def new_record_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(15))


def blank_record(coll: Collection) -> Record:
    return {f.name: f.zero() for f in coll.fields}


async def fetch_record(
    app: App, coll: Collection, record_id: str, conn: Connection | None = None, *, lock: bool = False
) -> Record | None:
    """One stored record; ``lock`` holds its row until the surrounding transaction ends (on
    SQLite the open write transaction already excludes every other writer)."""
    if "\x00" in record_id:  # never a stored id; PostgreSQL would refuse the statement (and abort its transaction)
        return None
    codec = codec_for(coll, app.dialect)
    sql = f'SELECT {codec.select("_r")} FROM {codec.table} AS "_r" WHERE "_r"."id" = :id'
    if lock and app.dialect != "sqlite":
        sql += " FOR UPDATE"
    row = await (conn.fetch_one(sql, {"id": record_id}) if conn else app.db.fetch_one(sql, {"id": record_id}))
    return codec.decode(row) if row else None


async def rule_matches_stored(
    app: App, coll: Collection, record_id: str, rule: str, info: RequestInfo, conn: Connection | None = None
) -> bool:
    """Does the stored record ``record_id`` satisfy ``rule`` for this caller?"""
    codec = codec_for(coll, app.dialect)
    where, params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    sql = f'SELECT 1 FROM {codec.table} AS "_r" WHERE "_r"."id" = :_rid AND ({where})'
    params["_rid"] = record_id
    row = await (conn.fetch_one(sql, params) if conn else app.db.fetch_one(sql, params))
    return row is not None


async def rule_matches_new(app: App, coll: Collection, record: Record, rule: str, info: RequestInfo) -> bool:
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
        cols.append(f"{codec.typed_placeholder(field.name, f'_v{i}')} AS {quote_ident(field.name, app.dialect)}")
    where, rule_params = compile_condition(app, coll, rule, info, '"_r"', allow_hidden=True)
    params.update(rule_params)
    sql = f'SELECT 1 FROM (SELECT {", ".join(cols)}) AS "_r" WHERE ({where})'
    return (await app.db.fetch_one(sql, params)) is not None


def is_manager_of(app: App, coll: Collection, info: RequestInfo) -> bool:
    """Cheap part of the manageRule check: superusers always manage."""
    return info.is_superuser


async def manages(app: App, coll: Collection, record_id: str | None, record: Record, info: RequestInfo) -> bool:
    if info.is_superuser:
        return True
    rule = coll.rule("manageRule") if coll.is_auth else None
    if not rule or info.auth is None:
        return False
    if record_id is None:
        return await rule_matches_new(app, coll, record, rule, info)
    return await rule_matches_stored(app, coll, record_id, rule, info)


async def validate_record(
    app: App,
    coll: Collection,
    record: Record,
    original: Record | None,
    pre_errors: dict[str, Any],
    uploaded: set[str] | None = None,
) -> None:
    ctx = ValidationContext(collection=coll, record=record, original=original, is_new=original is None, dialect=app.dialect)
    ctx.extras["uploaded"] = uploaded or set()
    errors: dict[str, Any] = dict(pre_errors)
    for field in coll.fields:
        if field.name in errors:
            continue
        err = field.validate(record.get(field.name), ctx)
        if err is None and field.type == "relation":
            err = await _missing_relations(app, field, record.get(field.name))
        if err is not None:
            errors[field.name] = err
    if errors:
        raise ValidationFailed("Failed to create record." if original is None else "Failed to update record.", errors)


async def _missing_relations(app: App, field: Any, value: Any) -> FieldError | None:
    ids = [v for v in (value if isinstance(value, list) else [value]) if v]
    if not ids:
        return None
    target = app.collections.get(getattr(field, "collectionId", ""))
    if target is None:
        return FieldError("validation_missing_rel_records", "Failed to find all relation records with the provided ids.")
    names = ", ".join(f":i{n}" for n in range(len(ids)))
    sql = f'SELECT COUNT(*) FROM {quote_ident(target.table, app.dialect)} WHERE "id" IN ({names})'
    params = {f"i{n}": v for n, v in enumerate(ids)}
    count = await app.db.fetch_value(sql, params)
    if int(count or 0) != len(set(ids)):
        return FieldError("validation_missing_rel_records", "Failed to find all relation records with the provided ids.")
    return None


async def _hash_passwords(app: App, coll: Collection, record: Record) -> None:
    from roost.core.auth.password_policy import password_policy
    from roost.core.fields.password import PlainPassword

    policy = password_policy(app)  # bcrypt (the field's cost) or argon2id, per roostAuth settings
    for field in coll.fields:
        value = record.get(field.name)
        if field.type == "password" and isinstance(value, PlainPassword):
            record[field.name] = await asyncio.to_thread(policy.hash, value, field.cost)  # type: ignore[attr-defined]


def _stamp(coll: Collection, record: Record, is_new: bool) -> None:
    now = now_string()
    for field in coll.fields:
        if field.type == "autodate" and ((is_new and field.onCreate) or (not is_new and field.onUpdate)):  # type: ignore[attr-defined]
            record[field.name] = now


def _unique_errors(coll: Collection, exc: UniqueViolation) -> dict[str, FieldError]:
    names = [c for c in exc.columns if coll.get_field(c)]
    if not names and exc.index:
        from roost.core.schema_mysql import index_columns

        names = [c for c in index_columns(coll, exc.index) if coll.get_field(c)]
    names = names or ["id"]
    return {n: FieldError("validation_not_unique", "Value must be unique.") for n in names}


async def create_record(
    app: App, coll: Collection, body: dict[str, Any], info: RequestInfo, files: dict[str, list[Upload]] | None = None
) -> Record:
    """Create one record; the caller's rules and every field are checked."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "createRule", info)
    record = blank_record(coll)
    resolved = load_body(coll, record, body, info, is_new=True)
    plan, upload_errors = apply_uploads(coll, record, None, body, files or {}, is_superuser=info.is_superuser)
    info.body = resolved
    _fill_generated(coll, record, is_new=True)
    manager = info.is_superuser or (coll.is_auth and await manages(app, coll, None, record, info))
    pre = auth_body_errors(coll, record, None, resolved, is_manager=manager, old_password_ok=None)
    if rule and not pre and not await rule_matches_new(app, coll, record, rule, info):
        raise BadRequest("Failed to create record.")
    await validate_record(app, coll, record, None, {**pre, **upload_errors}, {n for n, _ in plan.new})
    await _hash_passwords(app, coll, record)
    _stamp(coll, record, is_new=True)
    codec = codec_for(coll, app.dialect)
    params = {f"v{i}": f.to_db(record.get(f.name)) for i, f in enumerate(coll.fields)}
    values = ", ".join(codec.placeholder(f.name, f"v{i}") for i, f in enumerate(coll.fields))
    await store_new(app, coll, record["id"], plan)
    try:
        async with app.db.transaction() as conn:
            await conn.execute(f"INSERT INTO {codec.table} ({codec.columns}) VALUES ({values})", params)
    except UniqueViolation as exc:
        await discard_new(app, coll, record["id"], plan)
        raise ValidationFailed("Failed to create record.", _unique_errors(coll, exc)) from exc
    except BaseException:
        await discard_new(app, coll, record["id"], plan)
        raise
    # inside a batch that fails later, the uploads of this write go with the rollback
    app.db.after_rollback(lambda: discard_new(app, coll, record["id"], plan))
    await publish(app, RecordEvent("create", coll, record, info))
    return record


def _fill_generated(coll: Collection, record: Record, *, is_new: bool) -> None:
    for field in coll.fields:
        if record.get(field.name) in ("", None) and is_new:
            value = field.autogenerate()
            if value is not None:
                record[field.name] = value
    if is_new and not record.get("id"):
        record["id"] = new_record_id()


async def update_record(
    app: App,
    coll: Collection,
    record_id: str,
    body: dict[str, Any],
    info: RequestInfo,
    files: dict[str, list[Upload]] | None = None,
) -> Record:
    """Update one record; the update rule sees old values and ``@request.body`` the new ones."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "updateRule", info)
    if not builds_on_stored(body, files):
        return await _update(app, coll, record_id, rule, body, info, files, lock=False)
    # ``n+``, ``tags-``, ``files+``: the new value derives from the stored one, so the row is read
    # inside the write transaction and locked there, or concurrent modifiers would overwrite
    # each other's results (a batch's open transaction is joined, and the lock taken in it)
    async with app.db.transaction():
        return await _update(app, coll, record_id, rule, body, info, files, lock=True)


def builds_on_stored(body: dict[str, Any], files: dict[str, list[Upload]] | None) -> bool:
    """True when a key of the body (or of the uploads) carries a read-modify-write modifier."""
    return any(split_modifier(key)[1] in ("+", "-", "^") for key in (*body, *(files or {})))


async def _update(
    app: App,
    coll: Collection,
    record_id: str,
    rule: str | None,
    body: dict[str, Any],
    info: RequestInfo,
    files: dict[str, list[Upload]] | None,
    *,
    lock: bool,
) -> Record:
    original = await fetch_record(app, coll, record_id, lock=lock)
    if original is None:
        raise NotFound()
    record = dict(original)
    resolved = load_body(coll, record, body, info, is_new=False)
    plan, upload_errors = apply_uploads(coll, record, original, body, files or {}, is_superuser=info.is_superuser)
    info.body = resolved
    if rule and not await rule_matches_stored(app, coll, record_id, rule, info):
        raise NotFound()
    manager = info.is_superuser or (coll.is_auth and await manages(app, coll, record_id, record, info))
    old_ok = None
    if coll.is_auth and "password" in resolved and not manager and resolved.get("oldPassword"):
        from roost.core.auth.passwords import verify_password

        old_ok = await asyncio.to_thread(verify_password, str(resolved["oldPassword"]), str(original.get("password", "")))
    pre = auth_body_errors(coll, record, original, resolved, is_manager=manager, old_password_ok=old_ok)
    await validate_record(app, coll, record, original, {**pre, **upload_errors}, {n for n, _ in plan.new})
    if coll.is_auth and (record.get("password") != original.get("password") or record.get("email") != original.get("email")):
        token_field = coll.get_field("tokenKey")
        if token_field is not None:
            record["tokenKey"] = token_field.autogenerate() or record["tokenKey"]
    await _hash_passwords(app, coll, record)
    _stamp(coll, record, is_new=False)
    await store_new(app, coll, record_id, plan)
    try:
        await _write_update(app, coll, record, original)
    except BaseException:
        await discard_new(app, coll, record_id, plan)
        raise
    app.db.after_rollback(lambda: discard_new(app, coll, record_id, plan))
    # replaced files stay until the write is committed: a failing batch still references them
    await app.db.after_commit(lambda: delete_removed(app, coll, record_id, plan))
    await publish(app, RecordEvent("update", coll, record, info))
    return record


async def _write_update(app: App, coll: Collection, record: Record, original: Record, conn: Connection | None = None) -> None:
    codec = codec_for(coll, app.dialect)
    changed = [f for f in coll.fields if f.name != "id" and record.get(f.name) != original.get(f.name)]
    if not changed:
        return
    sets = ", ".join(f"{quote_ident(f.name, app.dialect)} = {codec.placeholder(f.name, f'v{i}')}" for i, f in enumerate(changed))
    params = {f"v{i}": f.to_db(record.get(f.name)) for i, f in enumerate(changed)}
    params["_id"] = record["id"]
    sql = f'UPDATE {codec.table} SET {sets} WHERE "id" = :_id'
    try:
        if conn is not None:
            await conn.execute(sql, params)
        else:
            async with app.db.transaction() as tx:
                await tx.execute(sql, params)
    except UniqueViolation as exc:
        raise ValidationFailed("Failed to update record.", _unique_errors(coll, exc)) from exc


async def delete_record(app: App, coll: Collection, record_id: str, info: RequestInfo) -> Record:
    """Delete one record, cascading to and guarding the records that reference it."""
    if coll.is_view:
        raise BadRequest(UNSUPPORTED)
    rule = require_rule(coll, "deleteRule", info)
    record = await fetch_record(app, coll, record_id)
    if record is None or (rule and not await rule_matches_stored(app, coll, record_id, rule, info)):
        raise NotFound()
    from roost.core.cascade import delete_with_cascade

    deleted: list[tuple[Collection, Record]] = []
    async with app.db.transaction() as conn:
        await delete_with_cascade(app, conn, coll, record, deleted=deleted)
    for gone_coll, gone in deleted:
        if any(f.type == "file" for f in gone_coll.fields):
            # after the commit, so a batch that fails later keeps the files of the records it restores
            await app.db.after_commit(partial(app.storage.delete_prefix, record_prefix(gone_coll, gone["id"])))
        await publish(app, RecordEvent("delete", gone_coll, gone, info if gone is record else None))
    return record
