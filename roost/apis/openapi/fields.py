"""Per-collection record schemas of the OpenAPI document, derived from the collection's fields.

Three schemas per collection: ``<name>.Record`` (what a response holds: hidden fields and
passwords never appear), ``<name>.Create`` and ``<name>.Update`` (what a client sends, JSON or
multipart; file fields take uploads in multipart).
"""

from __future__ import annotations

import re
from typing import Any

from roost.apis.openapi.schema import ANY, BOOL, DATETIME, STR, Schema, arr
from roost.core.schema.collection import Collection
from roost.core.schema.fields import Field

_BINARY: Schema = {"type": "string", "format": "binary"}
_GEOPOINT: Schema = {
    "type": "object",
    "required": ["lon", "lat"],
    "properties": {
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
    },
}
#: auth-record keys a client never sets directly
_NOT_WRITTEN = ("tokenKey",)


def _several(field: Field, item: Schema, *, write: bool) -> Schema:
    """One value, or a list of them when ``maxSelect`` > 1 (select, relation, file)."""
    if field.is_multiple():
        extra = {"maxItems": int(getattr(field, "maxSelect", 0))} if write else {}
        return arr(item, **extra)
    return item


def _text(field: Field, *, write: bool) -> Schema:
    schema: Schema = dict(STR)
    if not write:
        return schema
    fmt = {"email": "email", "url": "uri"}.get(field.type)
    if fmt:
        schema["format"] = fmt
    maximum = int(getattr(field, "max", 0) or 0)
    if maximum > 0:
        schema["maxLength"] = maximum
    minimum = int(getattr(field, "min", 0) or 0)
    if minimum > 0 and getattr(field, "required", False):
        schema["minLength"] = minimum
    pattern = str(getattr(field, "pattern", "") or "")
    if pattern and getattr(field, "required", False) and _python_regex(pattern):
        schema["pattern"] = pattern
    return schema


def _python_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _number(field: Field, *, write: bool) -> Schema:
    schema: Schema = {"type": "integer" if getattr(field, "onlyInt", False) else "number"}
    if write:
        for option, key in (("min", "minimum"), ("max", "maximum")):
            value = getattr(field, option, None)
            if value is not None:
                schema[key] = value
    return schema


def _select(field: Field, *, write: bool) -> Schema:
    values = [str(v) for v in getattr(field, "values", [])]
    if field.is_multiple():
        return _several(field, {"enum": values}, write=write)
    return {"enum": values if write and getattr(field, "required", False) else [*values, ""]}


def _file(field: Field, *, write: bool, form: bool = False) -> Schema:
    if form:
        return _several(field, _BINARY, write=True)
    return _several(field, dict(STR, description="file name"), write=write)


def field_schema(field: Field, *, write: bool = False, form: bool = False) -> Schema:
    """The JSON Schema of one field's value, as a response holds it or as a client sends it."""
    kind = field.type
    if kind in ("text", "email", "url", "editor", "password"):
        return _text(field, write=write)
    if kind == "number":
        return _number(field, write=write)
    if kind == "select":
        return _select(field, write=write)
    if kind == "relation":
        return _several(field, dict(STR, description="record id"), write=write)
    if kind == "file":
        return _file(field, write=write, form=form)
    if kind in ("date", "autodate"):
        return dict(DATETIME)
    if kind == "geoPoint":
        return dict(_GEOPOINT)
    return {"bool": BOOL, "json": ANY}.get(kind, dict(ANY, description=f"{kind} field"))


def _described(field: Field, schema: Schema) -> Schema:
    notes = [field.help] if field.help else []
    if field.readRule:
        notes.append(f"Present only for callers passing its readRule `{field.readRule}` (docs/roles.md).")
    if field.writeRule:
        notes.append(f"Sent by a caller failing its writeRule `{field.writeRule}`: 400 validation_field_write_forbidden.")
    if notes:
        return {**schema, "description": " ".join(notes)}
    return schema


def record_schema(coll: Collection) -> Schema:
    """What a response holds; superusers also receive hidden fields."""
    props: dict[str, Any] = {
        f.name: _described(f, field_schema(f)) for f in coll.fields if not f.hidden and f.type != "password"
    }
    props.update(collectionId={"const": coll.id}, collectionName={"const": coll.name}, expand={"type": "object"})
    note = ""
    if coll.is_auth:
        note = " `email` is present only to the record itself, its managers and superusers, or with emailVisibility."
    return {
        "type": "object",
        "description": f"A `{coll.name}` record. `fields=` may leave keys out; `expand` comes with `expand=`.{note}",
        "properties": props,
    }


def write_schema(coll: Collection, *, create: bool, form: bool = False) -> Schema:
    """What a client sends to create or update a record of ``coll``."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in coll.fields:
        if f.type == "autodate" or f.name in _NOT_WRITTEN or (not create and getattr(f, "primaryKey", False)):
            continue
        schema = field_schema(f, write=True, form=form)
        props[f.name] = {**_described(f, schema), "writeOnly": True} if f.type == "password" else _described(f, schema)
        if create and getattr(f, "required", False) and not getattr(f, "autogeneratePattern", ""):
            required.append(f.name)
    if coll.is_auth:
        props["passwordConfirm"] = {"type": "string", "writeOnly": True}
        if create:
            required += [n for n in ("password", "passwordConfirm") if n not in required]
        else:
            props["oldPassword"] = {"type": "string", "writeOnly": True, "description": "needed to change your own password"}
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out
