"""Collection definitions -> DDL, per dialect.

Index definitions are stored as PocketBase-style ``CREATE [UNIQUE] INDEX`` statements. They are
parsed into :class:`IndexDef` and re-rendered for the target dialect, so a superuser's index text
never reaches the database verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.core.db import quote_ident

if TYPE_CHECKING:
    from roost.core.collections import Collection
    from roost.core.fields import Field

_INDEX_RE = re.compile(
    r"^\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"[`\"\[]?(?P<name>\w+)[`\"\]]?\s+ON\s+[`\"\[]?(?P<table>\w+)?[`\"\]]?\s*"
    r"\((?P<columns>[^()]*)\)\s*(?:WHERE\s+(?P<where>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COLUMN_RE = re.compile(
    r"^\s*[`\"\[]?(?P<name>\w+)[`\"\]]?(?P<nocase>\s+COLLATE\s+NOCASE)?\s*(?P<dir>ASC|DESC)?\s*$",
    re.IGNORECASE,
)
#: a WHERE clause may only use identifiers, literals and simple operators
_SAFE_WHERE_RE = re.compile(r"^[\w\s`\"'=!<>().,%+\-*/]*$")


@dataclass(frozen=True)
class IndexColumn:
    name: str
    nocase: bool = False
    descending: bool = False


@dataclass(frozen=True)
class IndexDef:
    name: str
    unique: bool
    columns: tuple[IndexColumn, ...]
    where: str = ""


def parse_index(statement: str) -> IndexDef | None:
    """Parse one stored index statement; None when it is not in the supported form."""
    match = _INDEX_RE.match(statement)
    if not match:
        return None
    columns: list[IndexColumn] = []
    for part in match.group("columns").split(","):
        col = _COLUMN_RE.match(part)
        if not col:
            return None
        columns.append(
            IndexColumn(
                name=col.group("name"),
                nocase=bool(col.group("nocase")),
                descending=(col.group("dir") or "").upper() == "DESC",
            )
        )
    where = (match.group("where") or "").strip()
    if where and not _SAFE_WHERE_RE.match(where):
        return None
    return IndexDef(match.group("name"), bool(match.group("unique")), tuple(columns), where)


def render_index(index: IndexDef, table: str, dialect: str) -> str:
    """The CREATE INDEX statement for ``dialect``."""
    def q(name: str) -> str:
        return quote_ident(name, dialect)

    cols = []
    for col in index.columns:
        expr = q(col.name)
        if col.nocase:
            expr = f"{expr} COLLATE NOCASE" if dialect == "sqlite" else f"LOWER({expr})"
            if dialect == "mysql":
                expr = q(col.name)  # MySQL's default collations already ignore case
        cols.append(expr + (" DESC" if col.descending else ""))
    unique = "UNIQUE " if index.unique else ""
    sql = f"CREATE {unique}INDEX {q(index.name)} ON {q(table)} ({', '.join(cols)})"
    if index.where and dialect != "mysql":
        where = re.sub(r"`(\w+)`", lambda m: q(m.group(1)), index.where)
        sql += f" WHERE {where}"
    return sql


def drop_index_sql(name: str, table: str, dialect: str) -> str:
    if dialect == "mysql":
        return f"DROP INDEX {quote_ident(name, dialect)} ON {quote_ident(table, dialect)}"
    return f"DROP INDEX IF EXISTS {quote_ident(name, dialect)}"


def column_sql(field: Field, dialect: str) -> str:
    return f"{quote_ident(field.name, dialect)} {field.column_type(dialect)}"


def create_table_sql(collection: Collection, dialect: str) -> list[str]:
    """CREATE TABLE plus its indexes."""
    cols = []
    for field in collection.fields:
        sql = column_sql(field, dialect)
        if field.name == "id":
            sql = f"{quote_ident('id', dialect)} {_id_type(dialect)} PRIMARY KEY NOT NULL"
        cols.append(sql)
    statements = [f"CREATE TABLE {quote_ident(collection.table, dialect)} ({', '.join(cols)})"]
    statements += index_statements(collection, dialect)
    return statements


def index_statements(collection: Collection, dialect: str) -> list[str]:
    out = []
    for statement in collection.indexes:
        index = parse_index(statement)
        if index is not None:
            out.append(render_index(index, collection.table, dialect))
    return out


def drop_indexes_sql(collection: Collection, dialect: str) -> list[str]:
    out = []
    for statement in collection.indexes:
        index = parse_index(statement)
        if index is not None:
            out.append(drop_index_sql(index.name, collection.table, dialect))
    return out


def _id_type(dialect: str) -> str:
    return "VARCHAR(255)" if dialect == "mysql" else "TEXT"
