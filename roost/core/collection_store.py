"""Persisting collections: validation of definitions, DDL, and the in-memory cache.

Collections are stored as JSON in ``_collections``; every change runs in one write transaction
with its DDL, so a failed change leaves both the definition and the table as they were.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from roost.core import schema_sync
from roost.core.collections import (
    AUTH,
    BASE,
    COLLECTION_TYPES,
    RULE_NAMES,
    VIEW,
    Collection,
    default_collection_id,
)
from roost.core.db import Connection, Database, QueryError, UniqueViolation, quote_ident
from roost.core.errors import BadRequest, FieldError, ValidationFailed
from roost.core.fields import FIELD_TYPES, Field, default_field_id
from roost.core.fields.date import now_string
from roost.core.system_collections import auth_indexes, auth_options, auth_system_fields, id_field

NAME_RE = re.compile(r"^\w+$")
RESERVED_FIELD_NAMES = {"collectionId", "collectionName", "expand"}
#: validates one rule of a collection; returns an error message or None
RuleValidator = Callable[[Collection, str], "str | None"]


class CollectionStore:
    """The cache of collections and the only writer of ``_collections``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_id: dict[str, Collection] = {}
        self._by_name: dict[str, Collection] = {}
        self.rule_validator: RuleValidator | None = None
        #: called after a committed collection change (other processes reload their cache)
        self.on_change: Callable[[], Awaitable[None]] | None = None

    # ----- cache ------------------------------------------------------------------------------
    async def load(self) -> None:
        rows = await self.db.fetch_all('SELECT "data" FROM "_collections" ORDER BY "created", "id"')
        by_id: dict[str, Collection] = {}
        for row in rows:
            coll = Collection.from_dict(orjson.loads(row["data"]))
            by_id[coll.id] = coll
        self._by_id = by_id
        self._by_name = {c.name.lower(): c for c in by_id.values()}

    def get(self, name_or_id: str) -> Collection | None:
        return self._by_id.get(name_or_id) or self._by_name.get(name_or_id.lower())

    def all(self) -> list[Collection]:
        return list(self._by_id.values())

    # ----- building from client JSON ---------------------------------------------------------
    def build(self, data: dict[str, Any], existing: Collection | None = None) -> Collection:
        """Merge client JSON over defaults (or over ``existing``) into a complete collection."""
        if not isinstance(data, dict):
            raise BadRequest("Failed to load the collection type data due to invalid formatting.")
        base = existing.to_storage() if existing else {}
        merged = {**base, **{k: v for k, v in data.items() if k not in ("created", "updated", "system")}}
        merged.setdefault("name", "")
        if not isinstance(merged["name"], str):
            raise BadRequest("Failed to load the collection type data due to invalid formatting.")
        ctype = merged.get("type") or BASE
        if existing is not None:
            merged["type"] = existing.type
            merged["id"] = existing.id
        if not existing:
            merged["id"] = data.get("id") or default_collection_id(str(ctype), str(merged.get("name", "")))
            merged.setdefault("system", False)
        if ctype == AUTH:
            defaults = auth_options()
            for key, value in defaults.items():
                if key not in merged:
                    merged[key] = value
                elif isinstance(value, dict) and isinstance(merged[key], dict):
                    merged[key] = {**value, **(base.get(key) or {}), **merged[key]}
        fields_in = merged.get("fields") or []
        if not isinstance(fields_in, list) or not all(isinstance(f, dict) for f in fields_in):
            raise BadRequest("Failed to load the submitted data due to invalid formatting.")
        for f in fields_in:
            if f.get("type") not in FIELD_TYPES:
                raise BadRequest("Failed to load the submitted data due to invalid formatting.")
        merged["fields"] = self._with_system_fields(str(ctype), _dedupe_fields(fields_in), existing)
        if existing is not None and existing.name != merged["name"] and "indexes" not in data:
            merged["indexes"] = [_retarget_index(i, existing.name, merged["name"]) for i in existing.indexes]
        if ctype == AUTH and not existing and "indexes" not in data:
            merged["indexes"] = auth_indexes(str(merged.get("name", "")), str(merged["id"]))
        try:
            coll = Collection.from_dict(merged)
        except (TypeError, ValueError, KeyError) as exc:
            raise BadRequest("Failed to load the submitted data due to invalid formatting.") from exc
        if any(getattr(f, "load_errors", None) for f in coll.fields):
            raise BadRequest("Failed to load the submitted data due to invalid formatting.")
        coll.created = existing.created if existing else ""
        coll.updated = existing.updated if existing else ""
        coll.system = existing.system if existing else False
        coll.version = (existing.version + 1) if existing else 1
        return coll

    def _with_system_fields(
        self, ctype: str, fields_in: list[dict[str, Any]], existing: Collection | None
    ) -> list[dict[str, Any]]:
        """Keep the system fields a collection type requires, whatever the client sent."""
        if ctype == VIEW:
            return fields_in
        required = auth_system_fields() if ctype == AUTH else [id_field()]
        if existing is not None:
            required = [f.to_dict() for f in existing.fields if f.system] or required
        out = [dict(f) for f in fields_in]
        by_id = {f.get("id"): f for f in out if f.get("id")}
        by_name = {f.get("name"): f for f in out}
        prefix: list[dict[str, Any]] = []
        suffix: list[dict[str, Any]] = []
        for sys_field in required:
            sid = sys_field.get("id") or default_field_id(sys_field["type"], sys_field["name"])
            same_name = by_name.get(sys_field["name"])
            sent = by_id.get(sid) or (same_name if same_name and same_name.get("type") == sys_field["type"] else None)
            if sent is None:
                # a missing id goes first, other missing system fields after the client's fields
                (prefix if sys_field["name"] == "id" else suffix).append(sys_field)
            else:
                # system fields keep their name, type and system flag; options may be tuned
                sent.update(name=sys_field["name"], type=sys_field["type"], system=True, id=sid)
        return prefix + out + suffix

    # ----- validation -------------------------------------------------------------------------
    def validate(self, coll: Collection, existing: Collection | None) -> None:
        errors: dict[str, Any] = {}
        if not coll.name:
            errors["name"] = FieldError("validation_required", "Cannot be blank.")
        elif not NAME_RE.match(coll.name) or len(coll.name) > 255:
            errors["name"] = FieldError("validation_match_invalid", "Must be in a valid format.")
        else:
            other = self._by_name.get(coll.name.lower())
            if other is not None and other.id != coll.id:
                errors["name"] = FieldError(
                    "validation_collection_name_exists", "Collection name must be unique (case insensitive)."
                )
            elif existing is not None and existing.system and existing.name != coll.name:
                errors["name"] = FieldError("validation_collection_system_name_change", "System collection name cannot be changed.")
        if coll.type not in COLLECTION_TYPES:
            errors["type"] = FieldError("validation_in_invalid", "Must be a valid value.")
        elif coll.type == VIEW:
            view_error = self._prepare_view(coll)
            if view_error is not None:
                errors["viewQuery"] = view_error
        if existing is None and coll.id in self._by_id:
            errors["id"] = FieldError("validation_collection_id_exists", "Collection id must be unique.")
        elif existing is None and coll.id and not re.match(r"^\w+$", coll.id):
            errors["id"] = FieldError("validation_match_invalid", "Must be in a valid format.")
        field_errors = self._validate_fields(coll, existing)
        if field_errors:
            errors["fields"] = field_errors
        if coll.is_auth:
            from roost.core.auth.oauth2_options import prepare_oauth2_options

            oauth2_errors = prepare_oauth2_options(coll, existing)
            if oauth2_errors:
                errors["oauth2"] = oauth2_errors
        index_errors = {str(i): FieldError("validation_invalid_index_expression", "Invalid CREATE INDEX expression.")
                        for i, stmt in enumerate(coll.indexes) if not self._index_ok(stmt, coll)}  # fmt: skip
        if index_errors:
            errors["indexes"] = index_errors
        if not errors:
            errors.update(self._validate_rules(coll))
        if coll.is_auth and not errors:
            from roost.core.auth.mfa import option_errors

            errors.update(option_errors(coll.options))
        if errors:
            raise ValidationFailed("Failed to create collection." if existing is None else "Failed to update collection.", errors)

    def _prepare_view(self, coll: Collection) -> FieldError | None:
        """Infer a view's fields from its query; only list and view rules apply to views."""
        from roost.core.views import infer_fields

        for rule in ("createRule", "updateRule", "deleteRule"):
            coll.rules[rule] = None
        query = coll.options.get("viewQuery")
        if not isinstance(query, str) or not query.strip():
            return FieldError("validation_required", "Cannot be blank.")
        fields, error = infer_fields(self, query)
        if error is None:
            coll.fields = fields
            coll.reindex_fields()
            coll.indexes = []
        return error

    def _validate_fields(self, coll: Collection, existing: Collection | None) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        seen_names: set[str] = set()
        seen_ids: set[str] = set()
        old_ids = {f.id: f for f in existing.fields} if existing else {}
        for i, field in enumerate(coll.fields):
            err: dict[str, Any] = {}
            if not field.name:
                err["name"] = FieldError("validation_required", "Cannot be blank.")
            elif field.name in RESERVED_FIELD_NAMES:
                err["name"] = FieldError("validation_not_in_invalid", "Must not be in list.")
            elif not NAME_RE.match(field.name) or field.name.lower() in seen_names or field.id in seen_ids:
                err["name"] = FieldError(
                    "validation_duplicated_field_name",
                    f"Duplicated or invalid field name {field.name}.",
                    {"fieldName": field.name},
                )
            old = old_ids.get(field.id)
            if old is not None and old.type != field.type:
                err["type"] = FieldError("validation_field_type_change", "Field type cannot be changed.")
            if not err:
                err.update(field.validate_definition(coll))
            if not err and field.type == "relation":
                err.update(self._relation_errors(coll, field, old))
            if err:
                errors[str(i)] = err
            seen_names.add(field.name.lower())
            seen_ids.add(field.id)
        if existing is not None:
            for old in existing.fields:
                if old.system and not any(f.id == old.id for f in coll.fields):
                    errors.setdefault("fields", FieldError("validation_system_field_change", "System fields cannot be removed."))
        return errors

    def _relation_errors(self, coll: Collection, field: Field, old: Field | None) -> dict[str, FieldError]:
        from roost.core.fields.relation import (
            CHANGED_COLLECTION_ERROR,
            MISSING_COLLECTION_ERROR,
            VIEW_TARGET_ERROR,
        )

        target_id = str(getattr(field, "collectionId", "") or "")
        target = coll if target_id == coll.id else self._by_id.get(target_id)
        if target is None:
            return {"collectionId": FieldError(*MISSING_COLLECTION_ERROR)}
        if old is not None and getattr(old, "collectionId", "") != target_id:
            return {"collectionId": FieldError(*CHANGED_COLLECTION_ERROR)}
        if target.is_view and not coll.is_view:
            return {"collectionId": FieldError(*VIEW_TARGET_ERROR)}
        return {}

    def _index_ok(self, statement: str, coll: Collection) -> bool:
        index = schema_sync.parse_index(statement)
        if index is None:
            return False
        names = set(coll.field_names())
        return all(col.name in names for col in index.columns)

    def _validate_rules(self, coll: Collection) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        names = list(RULE_NAMES) + (["authRule", "manageRule"] if coll.is_auth else [])
        for name in names:
            rule = coll.rule(name)
            if rule is None or rule == "":
                if name == "manageRule" and rule == "":
                    errors[name] = FieldError("validation_required", "Cannot be blank.")
                continue
            if not isinstance(rule, str):
                errors[name] = FieldError("validation_invalid_rule", "Invalid rule.")
                continue
            message = self.rule_validator(coll, rule) if self.rule_validator else None
            if message:
                errors[name] = FieldError("validation_invalid_rule", f"Invalid rule. Raw error: {message}.")
        return errors

    # ----- persistence ------------------------------------------------------------------------
    async def create(self, data: dict[str, Any]) -> Collection:
        coll = self.build(data)
        self.validate(coll, None)
        await self.save(coll, None)
        return coll

    async def update(self, existing: Collection, data: dict[str, Any]) -> Collection:
        coll = self.build(data, existing)
        self.validate(coll, existing)
        await self.save(coll, existing)
        return coll

    async def save(self, coll: Collection, existing: Collection | None, conn: Connection | None = None) -> None:
        """Write the definition and apply DDL in one transaction, then refresh the cache."""
        now = now_string()
        coll.created = coll.created or now
        coll.updated = now
        try:
            if conn is None:
                async with self.db.transaction() as tx:
                    await self._save_in(tx, coll, existing)
            else:
                await self._save_in(conn, coll, existing)
        except QueryError as exc:
            # the database refused the change (all of it was rolled back): a 400, never a 500
            message = "Failed to create collection." if existing is None else "Failed to update collection."
            text = str(exc).lower()
            if isinstance(exc, UniqueViolation) or "unique" in text or "duplicate" in text:
                detail = "The existing records violate a unique index."
                raise ValidationFailed(message, {"indexes": FieldError("validation_invalid_index_expression", detail)}) from exc
            raise BadRequest(message) from exc
        self._remember(coll, existing)
        if self.on_change is not None:
            await self.db.after_commit(self.on_change)

    async def _save_in(self, conn: Connection, coll: Collection, existing: Collection | None) -> None:
        dialect = conn.dialect
        if dialect == "mysql":
            from roost.core.schema_mysql import save_table, save_view

            # MySQL commits around DDL: these undo the DDL if a later step fails
            write = lambda: self._write_definition(conn, coll, existing)  # noqa: E731
            if coll.is_view:
                await save_view(conn, existing, coll, lambda: self._save_view(conn, coll, existing), write)
            else:
                await save_table(conn, existing, coll, write)
            return
        if coll.is_view:
            await self._save_view(conn, coll, existing)
        elif existing is None:
            for sql in schema_sync.create_table_sql(coll, dialect):
                await conn.execute_ddl(sql)
        else:
            await alter_table(conn, existing, coll)
        await self._write_definition(conn, coll, existing)

    async def _write_definition(self, conn: Connection, coll: Collection, existing: Collection | None) -> None:
        if existing is None:
            await conn.execute(
                'INSERT INTO "_collections" ("id", "name", "type", "system", "data", "created", "updated") '
                "VALUES (:id, :name, :type, :system, :data, :created, :updated)",
                self._row(coll),
            )
        else:
            await conn.execute(
                'UPDATE "_collections" SET "name" = :name, "type" = :type, "system" = :system, "data" = :data, '
                '"created" = :created, "updated" = :updated WHERE "id" = :id',
                self._row(coll),
            )

    async def _save_view(self, conn: Connection, coll: Collection, existing: Collection | None) -> None:
        """(Re)create the SQL view; a query the database rejects becomes a field error."""
        from roost.core.views import INVALID, drop_view_sql, view_sql

        if existing is not None:
            await conn.execute_ddl(drop_view_sql(existing.table, conn.dialect))
        try:
            async with conn.savepoint():
                for sql in view_sql(coll, conn.dialect):
                    await conn.execute_ddl(sql)
                await conn.fetch_all(f"SELECT * FROM {quote_ident(coll.table, conn.dialect)} LIMIT 1")
        except QueryError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "the database rejected it"
            raise ValidationFailed(
                "Failed to create collection." if existing is None else "Failed to update collection.",
                {"viewQuery": FieldError(INVALID, f"Invalid query - {detail}.")},
            ) from exc

    def _row(self, coll: Collection) -> dict[str, Any]:
        return {
            "id": coll.id, "name": coll.name, "type": coll.type, "system": coll.system,
            "data": orjson.dumps({**coll.to_storage(), "version": coll.version}).decode(),
            "created": coll.created, "updated": coll.updated,
        }  # fmt: skip

    def _remember(self, coll: Collection, existing: Collection | None) -> None:
        if existing is not None:
            self._by_name.pop(existing.name.lower(), None)
        self._by_id[coll.id] = coll
        self._by_name[coll.name.lower()] = coll

    async def delete(self, coll: Collection) -> None:
        if coll.system:
            raise BadRequest("Failed to delete collection.")
        referencing = [
            c.name for c in self._by_id.values() if c.id != coll.id
            for f in c.fields if f.type == "relation" and getattr(f, "collectionId", "") == coll.id
        ]  # fmt: skip
        if referencing:
            raise BadRequest(f"Failed to delete collection probably due to existing reference in {referencing[0]}.")
        from roost.core.views import drop_view_sql

        drop = drop_view_sql(coll.table, self.db.dialect) if coll.is_view else f"DROP TABLE {quote_ident(coll.table, self.db.dialect)}"
        try:
            async with self.db.transaction() as conn:
                await conn.execute_ddl(drop)
                await conn.execute('DELETE FROM "_collections" WHERE "id" = :id', {"id": coll.id})
        except QueryError as exc:
            # e.g. a view still selects from this table
            raise BadRequest("Failed to delete collection.") from exc
        self._by_id.pop(coll.id, None)
        self._by_name.pop(coll.name.lower(), None)
        if self.on_change is not None:
            await self.on_change()

    def forget(self, coll: Collection) -> None:
        self._by_id.pop(coll.id, None)
        self._by_name.pop(coll.name.lower(), None)

    def snapshot(self) -> tuple[dict[str, Collection], dict[str, Collection]]:
        return dict(self._by_id), dict(self._by_name)

    def restore(self, snap: tuple[dict[str, Collection], dict[str, Collection]]) -> None:
        self._by_id, self._by_name = snap


def _dedupe_fields(fields_in: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A later field with the same id or name replaces the earlier one in place (PocketBase)."""
    out: list[dict[str, Any]] = []
    for field in fields_in:
        for i, kept in enumerate(out):
            if (field.get("id") and kept.get("id") == field.get("id")) or kept.get("name") == field.get("name"):
                kept_id = kept.get("id") or default_field_id(str(kept.get("type", "")), str(kept.get("name", "")))
                out[i] = field if field.get("id") else {**field, "id": kept_id}
                break
        else:
            out.append(field)
    return out


def _retarget_index(statement: str, old: str, new: str) -> str:
    return re.sub(rf"(\bON\s+)([`\"\[]?){re.escape(old)}([`\"\]]?)", lambda m: f"{m.group(1)}{m.group(2)}{new}{m.group(3)}", statement, count=1, flags=re.I)


async def alter_table(conn: Connection, old: Collection, new: Collection) -> None:
    """Apply the difference between two definitions of one collection to its table."""
    d = conn.dialect

    def q(name: str) -> str:
        return quote_ident(name, d)

    for sql in schema_sync.drop_indexes_sql(old, d):
        await conn.execute_ddl(sql)
    if old.table != new.table:
        await conn.execute_ddl(f"ALTER TABLE {q(old.table)} RENAME TO {q(new.table)}")
    table = q(new.table)
    new_by_id = {f.id: f for f in new.fields}
    old_by_id = {f.id: f for f in old.fields}
    for field in old.fields:
        if field.id not in new_by_id and field.name != "id":
            await conn.execute_ddl(f"ALTER TABLE {table} DROP COLUMN {q(field.name)}")
    for field in new.fields:
        before = old_by_id.get(field.id)
        if before is None:
            await conn.execute_ddl(f"ALTER TABLE {table} ADD COLUMN {schema_sync.column_sql(field, d)}")
            continue
        if before.name != field.name:
            await conn.execute_ddl(f"ALTER TABLE {table} RENAME COLUMN {q(before.name)} TO {q(field.name)}")
        if before.column_type(d) != field.column_type(d) and field.name != "id":
            await _convert_column(conn, new.table, before, field)
    for sql in schema_sync.index_statements(new, d):
        await conn.execute_ddl(sql)


async def _convert_column(conn: Connection, table: str, old: Field, new: Field) -> None:
    """Change a column's storage type by copying converted values through a temporary column."""
    d = conn.dialect

    def q(name: str) -> str:
        return quote_ident(name, d)

    tmp = f"_tmp_{new.name}"
    temp_field = copy.copy(new)
    temp_field.name = tmp
    await conn.execute_ddl(f"ALTER TABLE {q(table)} ADD COLUMN {schema_sync.column_sql(temp_field, d)}")
    rows = await conn.fetch_all(f"SELECT {q('id')} AS id, {q(new.name)} AS v FROM {q(table)}")
    params = [{"id": r["id"], "v": new.to_db(new.coerce(old.from_db(r["v"])))} for r in rows]
    if params:
        placeholder = ":v" if not (new.json_column and d == "postgresql") else "CAST(:v AS JSONB)"
        await conn.execute(f"UPDATE {q(table)} SET {q(tmp)} = {placeholder} WHERE {q('id')} = :id", params)
    await conn.execute_ddl(f"ALTER TABLE {q(table)} DROP COLUMN {q(new.name)}")
    await conn.execute_ddl(f"ALTER TABLE {q(table)} RENAME COLUMN {q(tmp)} TO {q(new.name)}")

