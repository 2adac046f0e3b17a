"""Applying the difference between two definitions of one collection to its table."""

from __future__ import annotations

import copy

from roost.core.collections import sync as schema_sync
from roost.core.db.facade import Connection, quote_ident
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field


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

