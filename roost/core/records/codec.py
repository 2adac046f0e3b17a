"""Moving records between the database, core and the API: decoding rows and exporting JSON.

Each collection gets a cached :class:`Codec` (keyed by collection version) so the hot path does
no per-request schema work: column lists, JSON placeholders and the alphabetical output order are
computed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.core.db.facade import quote_ident
from roost.core.events import RequestInfo
from roost.core.schema.collection import Collection

Record = dict[str, Any]

#: fields never output, whoever asks
NEVER_OUTPUT = frozenset({"password", "tokenKey"})


class Codec:
    """Per-collection, per-dialect precomputed conversions."""

    def __init__(self, collection: Collection, dialect: str) -> None:
        self.collection = collection
        self.dialect = dialect
        self.fields = list(collection.fields)
        self.table = quote_ident(collection.table, dialect)
        self.columns = ", ".join(quote_ident(f.name, dialect) for f in self.fields)
        self.select_list = ", ".join(f"{{alias}}.{quote_ident(f.name, dialect)}" for f in self.fields)
        out_names = [f.name for f in self.fields if f.name not in NEVER_OUTPUT and f.type != "password"]
        self.output_order = sorted([*out_names, "collectionId", "collectionName"])
        self.hidden = {f.name for f in self.fields if f.hidden}
        #: field name -> readRule/writeRule for fields restricted by one (see docs/roles.md)
        self.read_rules = {f.name: f.readRule for f in self.fields if f.readRule}
        self.write_rules = {f.name: f.writeRule for f in self.fields if f.writeRule}
        #: a new record's INSERT, its values as parameters ``v0``, ``v1`` ... in field order
        values = ", ".join(self.placeholder(f.name, f"v{i}") for i, f in enumerate(self.fields))
        self.insert_sql = f"INSERT INTO {self.table} ({self.columns}) VALUES ({values})"
        self.insert_params = [(f"v{i}", f) for i, f in enumerate(self.fields)]
        self.password_fields = [f for f in self.fields if f.type == "password"]
        #: the autodate fields a create, and an update, stamps with the time of the write
        self.stamped_on_create = [f.name for f in self.fields if f.type == "autodate" and getattr(f, "onCreate", False)]
        self.stamped_on_update = [f.name for f in self.fields if f.type == "autodate" and getattr(f, "onUpdate", False)]

    def select(self, alias: str) -> str:
        return self.select_list.replace("{alias}", alias)

    def decode(self, row: Mapping[str, Any]) -> Record:
        return {f.name: f.from_db(row.get(f.name)) for f in self.fields}

    def placeholder(self, name: str, param: str) -> str:
        field = self.collection.get_field(name)
        if field is not None and field.json_column and self.dialect == "postgresql":
            return f"CAST(:{param} AS JSONB)"
        return f":{param}"

    def typed_placeholder(self, name: str, param: str) -> str:
        """A placeholder carrying the column's SQL type (for SELECTs over literal rows)."""
        field = self.collection.get_field(name)
        if field is None or self.dialect == "sqlite":
            return f":{param}"
        sql_type = bare_sql_type(field.column_type(self.dialect))
        if self.dialect == "mysql":  # CAST knows only a few type names there
            sql_type = {"DOUBLE": "DOUBLE", "TINYINT(1)": "SIGNED"}.get(sql_type.upper(), "CHAR")
        return f"CAST(:{param} AS {sql_type})"

    def export(
        self,
        record: Record,
        *,
        show_hidden: bool,
        show_email: bool,
        unreadable: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The record's public JSON (keys in PocketBase's alphabetical order).

        ``unreadable`` names fields whose readRule the caller fails; they are left out like
        hidden fields.
        """
        coll = self.collection
        hidden: frozenset[str] | set[str] = frozenset() if show_hidden else self.hidden
        if unreadable:
            hidden = hidden | unreadable
        out: dict[str, Any] = {}
        for key in self.output_order:
            if key == "collectionId":
                out[key] = coll.id
            elif key == "collectionName":
                out[key] = coll.name
            elif key in hidden or (key == "email" and coll.is_auth and not show_email and not record.get("emailVisibility")):
                continue
            else:
                out[key] = record.get(key)
        return out


def bare_sql_type(column_type: str) -> str:
    """``DOUBLE PRECISION DEFAULT 0 NOT NULL`` -> ``DOUBLE PRECISION``."""
    upper = column_type.upper()
    cut = len(column_type)
    for marker in (" DEFAULT", " NOT NULL", " NULL", " PRIMARY"):
        pos = upper.find(marker)
        if pos != -1:
            cut = min(cut, pos)
    return column_type[:cut].strip()


_codecs: dict[tuple[str, int, str, int], Codec] = {}


def codec_for(collection: Collection, dialect: str) -> Codec:
    key = (collection.id, collection.version, dialect, id(collection))
    codec = _codecs.get(key)
    if codec is None:
        if len(_codecs) > 2048:
            _codecs.clear()
        codec = _codecs[key] = Codec(collection, dialect)
    return codec


def can_see_email(collection: Collection, record: Record, info: RequestInfo, is_manager: bool = False) -> bool:
    """Auth-record emails are visible to the record itself, superusers and managers."""
    if info.is_superuser or is_manager:
        return True
    return bool(info.auth and info.auth_collection is not None
                and info.auth_collection.id == collection.id and info.auth.get("id") == record.get("id"))  # fmt: skip
