"""View collections: a read-only SQL SELECT whose columns become fields.

Fields are inferred from the select list: a plain ``[alias.]column`` taken from another
collection copies that collection's field definition, well-known aggregates become numbers, and
any other expression becomes a ``json`` field. The query runs through the database once (inside
the saving transaction) so an invalid query is reported, never stored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from roost.core.db.facade import quote_ident
from roost.core.errors import FieldError
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field, field_from_dict

#: finds a collection by name or id (None when missing)
CollectionLookup = Callable[[str], Collection | None]


_FROM_RE = re.compile(r"\b(?:FROM|JOIN)\s+[`\"\[]?(\w+)[`\"\]]?(?:\s+(?:AS\s+)?[`\"\[]?(\w+)[`\"\]]?)?", re.I)
_KEYWORDS = {"where", "join", "left", "right", "inner", "outer", "cross", "on", "group", "order", "limit", "union", "as"}
_ALIAS_RE = re.compile(r"^(?P<expr>.+?)\s+(?:AS\s+)?[`\"\[]?(?P<alias>\w+)[`\"\]]?$", re.I | re.S)
_COLUMN_RE = re.compile(r"^(?:[`\"\[]?(?P<table>\w+)[`\"\]]?\.)?[`\"\[]?(?P<column>\w+)[`\"\]]?$")
_NUMERIC_FUNCS = re.compile(r"^(count|sum|total|avg|min|max|length|abs|round)\s*\(", re.I)
_CAST_RE = re.compile(r"^cast\s*\(.+\s+as\s+(?P<type>\w+)\s*\)$", re.I | re.S)
INVALID = "validation_invalid_view_query"


def _split_top_level(text: str) -> list[str]:
    parts, depth, current, quote = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quote:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _select_list(query: str) -> tuple[list[str], str] | None:
    """The select items and the rest of the query (from FROM on), or None if not a plain SELECT."""
    text = query.strip().rstrip(";").strip()
    if ";" in text or not re.match(r"^select\s", text, re.I):
        return None
    depth, quote = 0, ""
    lowered = text.lower()
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
            continue
        if char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and lowered.startswith("from", i) and text[i - 1].isspace() and (i + 4 >= len(text) or not text[i + 4].isalnum()):
            head = re.sub(r"^select\s+(distinct\s+)?", "", text[:i], flags=re.I)
            return _split_top_level(head), text[i:]
    return None


def infer_fields(lookup: CollectionLookup, query: str) -> tuple[list[Field], FieldError | None]:
    """The fields a view query produces, or an error for a query that cannot be a view."""
    parsed = _select_list(query)
    if parsed is None:
        return [], FieldError(INVALID, "Invalid query - only a single SELECT statement is allowed.")
    items, rest = parsed
    sources: dict[str, Collection] = {}
    for match in _FROM_RE.finditer(rest):
        coll = lookup(match.group(1))
        if coll is not None:
            sources[match.group(1).lower()] = coll
            alias = match.group(2)
            if alias and alias.lower() not in _KEYWORDS:
                sources[alias.lower()] = coll
    fields: list[Field] = []
    for item in items:
        if item == "*":
            return [], FieldError(INVALID, "Invalid query - wildcard columns are not supported, list them instead.")
        fields.append(_infer_one(item, sources))
    names = [f.name for f in fields]
    if "id" not in names:
        return [], FieldError(
            INVALID, "Invalid query - missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don't have one)."
        )
    return fields, None


def _infer_one(item: str, sources: dict[str, Collection]) -> Field:
    expr, name = item, item
    match = _ALIAS_RE.match(item)
    if match and not _COLUMN_RE.match(item):
        expr, name = match.group("expr").strip(), match.group("alias")
    column = _COLUMN_RE.match(expr)
    if column is not None:
        name = name if match and not _COLUMN_RE.match(item) else column.group("column")
    if name == "id":
        # whatever feeds it (a relation, a date, another id), a view's id is the plain text primary key
        return field_from_dict({"type": "text", "name": "id", "system": True, "primaryKey": True, "required": True,
                                "pattern": "^[a-z0-9]+$"})  # fmt: skip
    if column is not None:
        source = _source_field(column.group("table"), column.group("column"), sources)
        if source is not None:
            return _clone(source, name)
    if _NUMERIC_FUNCS.match(expr):
        return field_from_dict({"type": "number", "name": name, "id": _random_id()})
    cast = _CAST_RE.match(expr)
    if cast is not None:
        kind = cast.group("type").lower()
        if kind in ("int", "integer", "real", "numeric", "float", "double", "decimal"):
            return field_from_dict({"type": "number", "name": name, "id": _random_id()})
        if kind in ("bool", "boolean"):
            return field_from_dict({"type": "bool", "name": name, "id": _random_id()})
        return field_from_dict({"type": "text", "name": name, "id": _random_id()})
    return field_from_dict({"type": "json", "name": name, "id": _random_id()})


def _source_field(table: str | None, column: str, sources: dict[str, Collection]) -> Field | None:
    candidates = [sources[table.lower()]] if table and table.lower() in sources else list(sources.values())
    for coll in candidates:
        field = coll.get_field(column)
        if field is not None:
            return field
    return None


def _clone(source: Field, name: str) -> Field:
    data: dict[str, Any] = dict(source.to_dict())
    data.update(name=name, id=_random_id(), system=False)
    if data.get("type") == "autodate":
        data = {"type": "autodate", "name": name, "id": data["id"], "onCreate": data.get("onCreate"), "onUpdate": data.get("onUpdate")}
    return field_from_dict(data)


def _random_id() -> str:
    return "_clone_" + secrets.token_hex(2)


def view_sql(coll: Collection, dialect: str) -> list[str]:
    query = str(coll.options.get("viewQuery", "")).strip().rstrip(";")
    return [f"CREATE VIEW {quote_ident(coll.table, dialect)} AS {query}"]


def drop_view_sql(name: str, dialect: str) -> str:
    return f"DROP VIEW IF EXISTS {quote_ident(name, dialect)}"
