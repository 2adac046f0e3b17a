"""Full-text search indexes: the ``search`` collection option and the DDL that keeps one per table.

A collection opts in with ``"search": {"fields": ["title", "body"]}`` (a Roost extension; without
the key the collection JSON is PocketBase's, unchanged). The database keeps the index in step with
every write, whoever makes it (record pipeline, batch, imports, plain SQL):

* SQLite: an FTS5 table ``_search_<collection id>`` filled by triggers on the record table;
* PostgreSQL: a generated ``_search`` ``tsvector`` column (``simple`` configuration) with a GIN index;
* MySQL/MariaDB: a generated ``_search`` column with the lowercased text and a FULLTEXT index
  (lowercased because the tables' binary collation would make FULLTEXT case-sensitive).

No database stems words or drops diacritics here, so the three agree on what matches. The index
objects are rebuilt when the option, the indexed field names or the table name change.
"""

from __future__ import annotations

from typing import Any

from roost.core.db.facade import quote_ident
from roost.core.errors import FieldError
from roost.core.schema.collection import Collection

OPTION = "search"
#: field types whose text can be indexed (hidden fields never: a match would reveal them)
SEARCHABLE = frozenset({"text", "editor", "url", "select"})
MAX_FIELDS = 16
COLUMN = "_search"


def search_fields(coll: Collection) -> list[str]:
    """The indexed field names, in order ([] when the collection has no search index)."""
    option = coll.options.get(OPTION)
    if not isinstance(option, dict):
        return []
    fields = option.get("fields")
    return [str(f) for f in fields] if isinstance(fields, list) else []


def search_errors(coll: Collection) -> dict[str, Any]:
    """Field errors of the ``search`` option (``{}`` when it is absent or valid).

    ``{"fields": []}`` removes the index, and the key with it, so the JSON is PocketBase's again.
    """
    if OPTION not in coll.options:
        return {}
    if coll.options[OPTION] == {"fields": []}:
        del coll.options[OPTION]
        return {}
    option = coll.options[OPTION]
    fields = option.get("fields") if isinstance(option, dict) else None
    if not isinstance(option, dict) or set(option) - {"fields"} or not isinstance(fields, list):
        return {OPTION: FieldError("validation_invalid_search", 'Must be {"fields": [field names]}.')}
    if coll.is_view and fields:
        return {OPTION: FieldError("validation_invalid_search", "View collections cannot have a search index.")}
    if len(fields) > MAX_FIELDS or len(set(map(str, fields))) != len(fields):
        return {OPTION: FieldError("validation_invalid_search", f"At most {MAX_FIELDS} distinct fields.")}
    bad = {}
    for n, name in enumerate(fields):
        fld = coll.get_field(name) if isinstance(name, str) else None
        if fld is None or fld.type not in SEARCHABLE or fld.hidden or fld.readRule or fld.is_multiple():
            bad[str(n)] = FieldError("validation_invalid_search_field", "Must be a visible text, editor, url or single select field without a readRule.")
    return {OPTION: {"fields": bad}} if bad else {}


def index_name(coll: Collection) -> str:
    return f"_search_{coll.id}"


def signature(coll: Collection | None) -> tuple[str, ...]:
    """What the index objects depend on: rebuilt when this changes."""
    if coll is None or coll.is_view or not search_fields(coll):
        return ()
    return (coll.table, *search_fields(coll))


def create_search_sql(coll: Collection, dialect: str) -> list[str]:
    """The statements that build ``coll``'s search index and fill it from the existing rows."""
    fields = search_fields(coll)
    if not fields or coll.is_view:
        return []
    table, name = quote_ident(coll.table, dialect), quote_ident(index_name(coll), dialect)
    cols = [quote_ident(f, dialect) for f in fields]
    if dialect == "postgresql":
        text = " || ' ' || ".join(f"coalesce({c}, '')" for c in cols)
        return [
            f"ALTER TABLE {table} ADD COLUMN {quote_ident(COLUMN, dialect)} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, {text})) STORED",
            f"CREATE INDEX {name} ON {table} USING GIN ({quote_ident(COLUMN, dialect)})",
        ]
    if dialect == "mysql":
        text = f"LOWER(CONCAT_WS(' ', {', '.join(cols)}))"
        return [
            f"ALTER TABLE {table} ADD COLUMN {quote_ident(COLUMN, dialect)} LONGTEXT GENERATED ALWAYS AS ({text}) STORED",
            f"CREATE FULLTEXT INDEX {name} ON {table} ({quote_ident(COLUMN, dialect)})",
        ]
    return _sqlite_sql(coll, table, name, cols)


def _sqlite_sql(coll: Collection, table: str, name: str, cols: list[str]) -> list[str]:
    slots = ", ".join(f"c{n}" for n in range(len(cols)))
    new_values = ", ".join(f"new.{c}" for c in cols)
    insert = f"INSERT INTO {name} (rowid, {slots}) VALUES (new.rowid, {new_values});"
    delete = f"DELETE FROM {name} WHERE rowid = old.rowid;"
    trigger = quote_ident(f"{index_name(coll)}_", "sqlite")[:-1]
    return [
        f"CREATE VIRTUAL TABLE {name} USING fts5({slots}, tokenize = 'unicode61 remove_diacritics 0')",
        f"INSERT INTO {name} (rowid, {slots}) SELECT rowid, {', '.join(cols)} FROM {table}",
        f'CREATE TRIGGER {trigger}ai" AFTER INSERT ON {table} BEGIN {insert} END',
        f'CREATE TRIGGER {trigger}ad" AFTER DELETE ON {table} BEGIN {delete} END',
        f'CREATE TRIGGER {trigger}au" AFTER UPDATE ON {table} BEGIN {delete} {insert} END',
    ]


def drop_search_sql(coll: Collection, dialect: str) -> list[str]:
    """The statements that remove ``coll``'s search index objects (nothing when it has none)."""
    if not signature(coll):
        return []
    table, name = quote_ident(coll.table, dialect), quote_ident(index_name(coll), dialect)
    if dialect in ("postgresql", "mysql"):
        # dropping the generated column drops its index with it
        return [f"ALTER TABLE {table} DROP COLUMN {quote_ident(COLUMN, dialect)}"]
    trigger = quote_ident(f"{index_name(coll)}_", "sqlite")[:-1]
    return [f'DROP TRIGGER IF EXISTS {trigger}{suffix}"' for suffix in ("ai", "ad", "au")] + [f"DROP TABLE IF EXISTS {name}"]
