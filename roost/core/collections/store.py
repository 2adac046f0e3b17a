"""Persisting collections: validation of definitions, DDL, and the in-memory cache.

Collections are stored as JSON in ``_collections``; every change runs in one write transaction
with its DDL, so a failed change leaves both the definition and the table as they were.

:meth:`CollectionStore.create`, ``update`` and ``delete`` fire the model-level collection hooks
(``on_collection_create`` -> ``on_collection_validate`` -> ``on_collection_create_execute`` ->
``on_collection_after_create_success`` ...); :meth:`CollectionStore.save` is the bare write that
bootstrap and lazily created system collections use.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson

from roost.core.collections import search
from roost.core.collections import sync as schema_sync
from roost.core.collections.ddl import alter_table
from roost.core.collections.mysql_sync import save_table, save_view
from roost.core.collections.validation import CollectionValidation, RuleValidator
from roost.core.collections.views import INVALID, drop_view_sql, view_sql
from roost.core.db.facade import Connection, Database, QueryError, UniqueViolation, quote_ident
from roost.core.errors import BadRequest, FieldError, ValidationFailed
from roost.core.events import CollectionErrorEvent, CollectionEvent
from roost.core.hooks import Hooks, trigger_logged
from roost.core.schema.collection import (
    AUTH,
    BASE,
    VIEW,
    Collection,
    default_collection_id,
)
from roost.core.schema.fields import FIELD_TYPES, default_field_id
from roost.core.schema.fields.date import now_string
from roost.core.schema.shape import is_well_formed, with_zeroed_nulls
from roost.core.schema.system import auth_indexes, auth_options, auth_system_fields, id_field


class CollectionStore(CollectionValidation):
    """The cache of collections and the only writer of ``_collections``."""

    def __init__(self, db: Database, hooks: Hooks | None = None, app: Any = None) -> None:
        self.db = db
        #: the hooks the writes fire, and the app their events carry (None: a bare store)
        self.hooks = hooks
        self.app = app
        self._by_id: dict[str, Collection] = {}
        self._by_name: dict[str, Collection] = {}
        self.rule_validator: RuleValidator | None = None
        #: called after a committed collection change (other processes reload their cache)
        self.on_change: Callable[[], Awaitable[None]] | None = None
        self._system_locks: dict[str, asyncio.Lock] = {}
        #: called before a client's change is written; raises when other processes could not hear of it
        self.before_change: Callable[[], Awaitable[None]] | None = None

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

    async def ensure_system(self, name: str, definition: Callable[[], dict[str, Any]], migration: str) -> Collection:
        """The system collection ``name``, created from ``definition()`` (recorded as ``migration``)
        the first time a feature needs it, so data dirs that never use it stay as they were."""
        found = self.get(name)
        if found is not None:
            return found
        async with self._system_locks.setdefault(name, asyncio.Lock()):
            found = self.get(name)
            if found is not None:
                return found
            coll = self.build(definition())
            coll.system = True
            try:
                async with self.db.transaction() as conn:
                    await self.save(coll, None, conn)
                    done = await conn.fetch_one('SELECT 1 FROM "_migrations" WHERE "file" = :f', {"f": migration})
                    if done is None:
                        await conn.execute(
                            'INSERT INTO "_migrations" ("file", "applied") VALUES (:f, :t)',
                            {"f": migration, "t": int(time.time() * 1_000_000)},
                        )
            except Exception:
                # another process created it first
                await self.load()
            found = self.get(name)
            if found is None:
                raise RuntimeError(f"system collection {name} could not be created")
            return found

    # ----- building from client JSON ---------------------------------------------------------
    def build(self, data: dict[str, Any], existing: Collection | None = None) -> Collection:
        """Merge client JSON over defaults (or over ``existing``) into a complete collection."""
        if not isinstance(data, dict):
            raise BadRequest("Failed to load the collection type data due to invalid formatting.")
        if not is_well_formed(data):
            raise BadRequest("Failed to load the submitted data due to invalid formatting.")
        # ``null`` leaves a key at its default, except for rules where it means "superusers only"
        data = with_zeroed_nulls({k: v for k, v in data.items() if v is not None or k.endswith("Rule")})
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
                elif isinstance(value, dict) and merged[key] is not None:
                    raise BadRequest("Failed to load the submitted data due to invalid formatting.")
        fields_in = merged.get("fields") or []
        if _malformed(fields_in) or any(f.get("type") not in FIELD_TYPES for f in fields_in):
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

    # ----- persistence ------------------------------------------------------------------------
    async def create(self, data: dict[str, Any]) -> Collection:
        return await self._persist(self.build(data), None)

    async def update(self, existing: Collection, data: dict[str, Any]) -> Collection:
        return await self._persist(self.build(data, existing), existing)

    async def _persist(self, coll: Collection, existing: Collection | None) -> Collection:
        """Validate and save ``coll`` through the collection hooks; returns what was saved."""
        hooks = self.hooks
        if hooks is None:
            self.validate(coll, existing)
            await self._before_change()
            await self.save(coll, existing)
            return coll
        if existing is None:
            before, execute = hooks.on_collection_create, hooks.on_collection_create_execute
            success, failure = hooks.on_collection_after_create_success, hooks.on_collection_after_create_error
        else:
            before, execute = hooks.on_collection_update, hooks.on_collection_update_execute
            success, failure = hooks.on_collection_after_update_success, hooks.on_collection_after_update_error
        event = CollectionEvent(app=self.app, collection=coll, action="create" if existing is None else "update", original=existing)
        await self._run(event, before, partial(self._validate_and_save, execute), success, failure)
        return event.collection

    async def _validate_and_save(self, execute: Any, event: CollectionEvent) -> None:
        assert self.hooks is not None
        check = CollectionEvent(app=event.app, collection=event.collection, action="validate", original=event.original)
        await self.hooks.on_collection_validate.trigger(check, self._validate_event)
        event.collection = check.collection
        await self._before_change()
        await execute.trigger(event, self._save_event)

    async def _validate_event(self, event: CollectionEvent) -> None:
        self.validate(event.collection, event.original)

    async def _save_event(self, event: CollectionEvent) -> None:
        await self.save(event.collection, event.original)

    async def _run(
        self, event: CollectionEvent, before: Any, final: Callable[[CollectionEvent], Awaitable[None]], success: Any, failure: Any
    ) -> None:
        """``before`` around ``final``, then the after-success hook (after the commit) or the after-error one."""
        done: list[bool] = []

        async def run(e: CollectionEvent) -> None:
            await final(e)
            done.append(True)

        try:
            await before.trigger(event, run)
        except Exception as exc:
            error = CollectionErrorEvent(app=event.app, collection=event.collection, action=event.action, original=event.original, error=exc)
            await trigger_logged(failure, error)
            raise
        if done and success.handlers:
            await self.db.after_commit(partial(trigger_logged, success, event))

    async def _before_change(self) -> None:
        if self.before_change is not None:
            await self.before_change()

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
            if isinstance(exc, UniqueViolation) or "unique constraint" in text or "duplicate entry" in text or "duplicate key value" in text or "could not create unique index" in text:
                detail = "The existing records violate a unique index."
                raise ValidationFailed(message, {"indexes": FieldError("validation_invalid_index_expression", detail)}) from exc
            raise BadRequest(message) from exc
        self._remember(coll, existing)
        if self.on_change is not None:
            await self.db.after_commit(self.on_change)

    async def _save_in(self, conn: Connection, coll: Collection, existing: Collection | None) -> None:
        dialect = conn.dialect
        if dialect == "mysql":
            # MySQL commits around DDL: these undo the DDL if a later step fails
            write = lambda: self._write_definition(conn, coll, existing)  # noqa: E731
            if coll.is_view:
                await save_view(conn, existing, coll, lambda: self._save_view(conn, coll, existing), write)
            else:
                await save_table(conn, existing, coll, write)
            return
        rebuild = search.signature(existing) != search.signature(coll)
        if existing is not None and rebuild:
            for sql in search.drop_search_sql(existing, dialect):
                await conn.execute_ddl(sql)
        if coll.is_view:
            await self._save_view(conn, coll, existing)
        elif existing is None:
            for sql in schema_sync.create_table_sql(coll, dialect):
                await conn.execute_ddl(sql)
        else:
            await alter_table(conn, existing, coll)
        if rebuild:
            for sql in search.create_search_sql(coll, dialect):
                await conn.execute_ddl(sql)
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
        """Drop ``coll`` and its table (or view), through the delete hooks."""
        hooks = self.hooks
        if hooks is None:
            await self._delete(coll)
            return
        event = CollectionEvent(app=self.app, collection=coll, action="delete")
        final = partial(self._execute_delete, hooks.on_collection_delete_execute)
        await self._run(event, hooks.on_collection_delete, final, hooks.on_collection_after_delete_success, hooks.on_collection_after_delete_error)

    async def _execute_delete(self, execute: Any, event: CollectionEvent) -> None:
        await execute.trigger(event, self._delete_event)

    async def _delete_event(self, event: CollectionEvent) -> None:
        await self._delete(event.collection)

    async def _delete(self, coll: Collection) -> None:
        if coll.system:
            raise BadRequest("Failed to delete collection.")
        referencing = [
            c.name for c in self._by_id.values() if c.id != coll.id
            for f in c.fields if f.type == "relation" and getattr(f, "collectionId", "") == coll.id
        ]  # fmt: skip
        if referencing:
            raise BadRequest(f"Failed to delete collection probably due to existing reference in {referencing[0]}.")
        await self._before_change()
        drop = drop_view_sql(coll.table, self.db.dialect) if coll.is_view else f"DROP TABLE {quote_ident(coll.table, self.db.dialect)}"
        try:
            async with self.db.transaction() as conn:
                for sql in search.drop_search_sql(coll, self.db.dialect) if self.db.dialect == "sqlite" else ():
                    await conn.execute_ddl(sql)  # the FTS5 table outlives its record table otherwise
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


def _malformed(fields_in: Any) -> bool:
    """A field list that is not a list of objects with string ids, names and types (the rest of the
    body's shape is checked by ``collection_shape``); ``null`` means unset."""
    if not isinstance(fields_in, list) or not all(isinstance(f, dict) for f in fields_in):
        return True
    strings = [f.get(k) for f in fields_in for k in ("id", "name", "type")]
    return any(v is not None and not isinstance(v, str) for v in strings)


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
