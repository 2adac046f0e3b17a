"""Collection DDL on MySQL/MariaDB: index rendering and compensated, step-by-step changes.

**Indexes.** Text fields are ``LONGTEXT`` (no length limit, as in SQLite), which InnoDB indexes
only by prefix, and MySQL has no partial (``WHERE``) or expression (``COLLATE NOCASE``) indexes.
A collection index therefore becomes:

* non-unique: an index on the first characters of each text column (it serves ``=``, ``<``,
  ``>`` and prefix ``LIKE`` lookups); a ``WHERE`` clause is dropped, which indexes more rows
  but answers the same queries;
* unique: a hidden generated column ``_uq_<index>`` holding the SHA-256 of the indexed values
  (lower-cased for ``COLLATE NOCASE``; NULL where the ``WHERE`` clause is false, so those rows
  never clash) with a UNIQUE index on it, plus the prefix index above for lookups. Uniqueness
  is thus exact for values of any length, up to SHA-256 collisions.

**Changes.** MySQL commits before and after every DDL statement, so a collection change cannot
be one transaction. Every step is applied with its inverse remembered; if a later step fails
(typically a new unique index over duplicate values) the inverses run in reverse order and the
table is as before. Destructive steps (dropping the columns of removed fields, and the old
copies of converted columns) run last, once everything else has succeeded.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from roost.core.collections import search
from roost.core.collections.sync import IndexDef, column_sql, create_table_sql, parse_index
from roost.core.collections.views import view_sql
from roost.core.db.facade import quote_ident

if TYPE_CHECKING:
    from roost.core.db.facade import Connection
    from roost.core.schema.collection import Collection
    from roost.core.schema.fields import Field

_TEXT_TYPES = ("LONGTEXT", "TEXT", "VARCHAR", "CHAR", "MEDIUMTEXT")
#: InnoDB keys hold at most 3072 bytes; utf8mb4 needs up to 4 bytes a character
_KEY_CHARS = 760


def q(name: str) -> str:
    return quote_ident(name, "mysql")


def _short(name: str) -> str:
    # SHA-1 only shortens an identifier past MySQL's 64-character limit; nothing secret rides on it
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


def hash_column(index: IndexDef) -> str:
    name = f"_uq_{index.name}"
    return name if len(name) <= 64 else f"_uq_{_short(index.name)}"


def lookup_name(index: IndexDef) -> str:
    name = f"{index.name}_lookup"
    return name if len(name) <= 64 else f"lk_{_short(index.name)}"


def _prefix(collection: Collection, column: str, limit: int) -> str:
    """The key-prefix length a column needs: TEXT columns always, VARCHAR(n) only when n > limit."""
    fld = collection.get_field(column)
    column_type = fld.column_type("mysql").upper() if fld is not None else "LONGTEXT"
    if not column_type.startswith(_TEXT_TYPES):
        return ""
    declared = re.match(r"(?:VAR)?CHAR\((\d+)\)", column_type)
    if declared is not None and int(declared.group(1)) <= limit:
        return ""
    return f"({limit})"


def _key_parts(index: IndexDef, collection: Collection) -> str:
    prefix = max(8, min(191, _KEY_CHARS // len(index.columns)))
    parts = []
    for col in index.columns:
        part = q(col.name) + _prefix(collection, col.name, prefix)
        parts.append(part + (" DESC" if col.descending else ""))
    return ", ".join(parts)


def _hash_expr(index: IndexDef) -> str:
    values = ", ".join(f"LOWER({q(c.name)})" if c.nocase else q(c.name) for c in index.columns)
    nulls = " OR ".join(f"{q(c.name)} IS NULL" for c in index.columns)
    digest = f"UNHEX(SHA2(JSON_ARRAY({values}), 256))"
    condition = f"({nulls})"
    if index.where:
        condition = f"({condition} OR NOT ({index.where}))"
    return f"(CASE WHEN {condition} THEN NULL ELSE {digest} END)"


def create_index_sql(index: IndexDef, collection: Collection, table: str) -> str:
    """One ALTER TABLE adding the index (and, when unique, its hash column)."""
    lookup = f"ADD INDEX {q(lookup_name(index) if index.unique else index.name)} ({_key_parts(index, collection)})"
    if not index.unique:
        return f"ALTER TABLE {q(table)} {lookup}"
    column = hash_column(index)
    return (
        f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} BINARY(32) AS {_hash_expr(index)} VIRTUAL, "
        f"ADD UNIQUE INDEX {q(index.name)} ({q(column)}), {lookup}"
    )


def drop_index_sql(index: IndexDef, table: str) -> str:
    if not index.unique:
        return f"ALTER TABLE {q(table)} DROP INDEX {q(index.name)}"
    return (
        f"ALTER TABLE {q(table)} DROP INDEX {q(index.name)}, DROP INDEX {q(lookup_name(index))}, "
        f"DROP COLUMN {q(hash_column(index))}"
    )


def _indexes(collection: Collection) -> list[IndexDef]:
    return [i for i in (parse_index(s) for s in collection.indexes) if i is not None]


def index_columns(collection: Collection, index_name: str) -> list[str]:
    """The columns of ``collection``'s index ``index_name`` (for unique-violation errors)."""
    for index in _indexes(collection):
        if index_name in (index.name, hash_column(index), lookup_name(index)):
            return [c.name for c in index.columns]
    return []


class _Journal:
    """DDL steps applied so far, each with the statements that undo it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.undo: list[list[str]] = []

    async def run(self, sql: str, *undo: str) -> None:
        await self.conn.execute_ddl(sql)
        self.undo.append(list(undo))

    async def rollback(self) -> None:
        for statements in reversed(self.undo):
            for sql in statements:
                # undo as much as possible; the original error is the one reported
                with contextlib.suppress(Exception):
                    await self.conn.execute_ddl(sql)
        self.undo.clear()


async def save_table(
    conn: Connection, old: Collection | None, new: Collection, write_definition: Callable[[], Awaitable[None]]
) -> None:
    """Create or alter ``new``'s table, then ``write_definition()``; undo the DDL on failure."""
    journal = _Journal(conn)
    finish: list[str] = []
    rebuild = search.signature(old) != search.signature(new)
    try:
        if old is None:
            statements = create_table_sql(new, "mysql")
            await journal.run(statements[0], f"DROP TABLE IF EXISTS {q(new.table)}")
            for index in _indexes(new):
                await journal.run(create_index_sql(index, new, new.table))
        else:
            if rebuild:
                for sql in search.drop_search_sql(old, "mysql"):
                    await journal.run(sql, *search.create_search_sql(old, "mysql"))
            finish = await _alter(journal, old, new)
        if rebuild:
            for sql in search.create_search_sql(new, "mysql"):
                await journal.run(sql)
            undo = search.drop_search_sql(new, "mysql")
            journal.undo.append(undo)
        await write_definition()
    except BaseException:
        await journal.rollback()
        raise
    for sql in finish:
        await conn.execute_ddl(sql)


async def save_view(
    conn: Connection,
    old: Collection | None,
    new: Collection,
    create: Callable[[], Awaitable[None]],
    write_definition: Callable[[], Awaitable[None]],
) -> None:
    """(Re)create a view with ``create()``, then ``write_definition()``; on failure put back the old view."""
    try:
        await create()
        await write_definition()
    except BaseException:
        await conn.execute_ddl(f"DROP VIEW IF EXISTS {q(new.table)}")
        if old is not None:
            for sql in view_sql(old, "mysql"):
                await conn.execute_ddl(sql)
        raise


async def _alter(journal: _Journal, old: Collection, new: Collection) -> list[str]:
    """Apply the reversible steps; return the destructive ones to run after success."""
    for index in _indexes(old):
        await journal.run(drop_index_sql(index, old.table), create_index_sql(index, old, old.table))
    table = q(new.table)
    if old.table != new.table:
        await journal.run(f"ALTER TABLE {q(old.table)} RENAME TO {table}", f"ALTER TABLE {table} RENAME TO {q(old.table)}")
    new_by_id = {f.id: f for f in new.fields}
    old_by_id = {f.id: f for f in old.fields}
    finish: list[str] = []
    for field in old.fields:
        if field.id not in new_by_id and field.name != "id":
            parked = f"_old_{field.id}"[:64]
            await journal.run(
                f"ALTER TABLE {table} RENAME COLUMN {q(field.name)} TO {q(parked)}",
                f"ALTER TABLE {table} RENAME COLUMN {q(parked)} TO {q(field.name)}",
            )
            finish.append(f"ALTER TABLE {table} DROP COLUMN {q(parked)}")
    for field in new.fields:
        before = old_by_id.get(field.id)
        if before is None:
            await journal.run(f"ALTER TABLE {table} ADD COLUMN {column_sql(field, 'mysql')}", f"ALTER TABLE {table} DROP COLUMN {q(field.name)}")
            continue
        if before.name != field.name:
            await journal.run(
                f"ALTER TABLE {table} RENAME COLUMN {q(before.name)} TO {q(field.name)}",
                f"ALTER TABLE {table} RENAME COLUMN {q(field.name)} TO {q(before.name)}",
            )
        if before.column_type("mysql") != field.column_type("mysql") and field.name != "id":
            finish.append(await _convert(journal, new.table, before, field))
    for index in _indexes(new):
        await journal.run(create_index_sql(index, new, new.table), drop_index_sql(index, new.table))
    return finish


async def _convert(journal: _Journal, table: str, old: Field, new: Field) -> str:
    """Copy converted values into a new column; the old one is parked, then dropped at the end."""
    conn = journal.conn
    tmp, parked = f"_tmp_{new.name}"[:64], f"_old_{new.id}"[:64]
    temp_field = copy.copy(new)
    temp_field.name = tmp
    await journal.run(f"ALTER TABLE {q(table)} ADD COLUMN {column_sql(temp_field, 'mysql')}", f"ALTER TABLE {q(table)} DROP COLUMN {q(tmp)}")
    rows = await conn.fetch_all(f"SELECT {q('id')} AS id, {q(new.name)} AS v FROM {q(table)}")
    params = [{"id": r["id"], "v": new.to_db(new.coerce(old.from_db(r["v"])))} for r in rows]
    if params:
        await conn.execute(f"UPDATE {q(table)} SET {q(tmp)} = :v WHERE {q('id')} = :id", params)
    await journal.run(
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(new.name)} TO {q(parked)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(parked)} TO {q(new.name)}",
    )
    await journal.run(
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(tmp)} TO {q(new.name)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(new.name)} TO {q(tmp)}",
    )
    return f"ALTER TABLE {q(table)} DROP COLUMN {q(parked)}"
