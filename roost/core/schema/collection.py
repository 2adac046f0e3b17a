"""The collection model: definition, (de)serialisation and lookups.

A collection is a named set of fields stored as one SQL table (``base`` and ``auth``) or a SQL
view (``view``). Its JSON form is PocketBase's. Saving and schema changes live in
:mod:`roost.core.collections.store`; this module holds only the in-memory model.
"""

from __future__ import annotations

import copy
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from roost.core.schema.fields import Field, field_from_dict

BASE = "base"
AUTH = "auth"
VIEW = "view"
COLLECTION_TYPES = (BASE, AUTH, VIEW)

RULE_NAMES = ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")
AUTH_RULE_NAMES = ("authRule", "manageRule")

#: auth option blocks with a per-collection signing secret (never output)
TOKEN_OPTIONS = ("authToken", "passwordResetToken", "emailChangeToken", "verificationToken", "fileToken")


def default_collection_id(type_name: str, name: str) -> str:
    """PocketBase-compatible default id: ``pbc_`` + decimal crc32(type + name)."""
    return f"pbc_{zlib.crc32((type_name + name).encode())}"


def new_token_secret() -> str:
    return secrets.token_urlsafe(37)[:50]


@dataclass
class Collection:
    """One collection definition held in the in-memory cache."""

    id: str
    name: str
    type: str = BASE
    system: bool = False
    fields: list[Field] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    rules: dict[str, str | None] = field(default_factory=dict)
    #: type-specific options (auth: authRule, manageRule, passwordAuth, authToken ...; view: viewQuery)
    options: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    #: bumped on every change; keys the compiled-filter cache
    version: int = 0

    # ----- lookups ----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self._by_name: dict[str, Field] = {}
        self.reindex_fields()

    def reindex_fields(self) -> None:
        self._by_name = {f.name: f for f in self.fields}

    def get_field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def is_auth(self) -> bool:
        return self.type == AUTH

    @property
    def is_view(self) -> bool:
        return self.type == VIEW

    @property
    def table(self) -> str:
        return self.name

    def rule(self, name: str) -> str | None:
        """One of listRule..deleteRule, authRule, manageRule (None = superusers only)."""
        if name in AUTH_RULE_NAMES:
            value = self.options.get(name)
            return value if value is None else str(value)
        return self.rules.get(name)

    def token_secret(self, kind: str) -> str:
        """The per-collection signing secret of a token kind, e.g. ``authToken``."""
        block = self.options.get(kind) or {}
        return str(block.get("secret", ""))

    def token_duration(self, kind: str) -> int:
        block = self.options.get(kind) or {}
        return int(block.get("duration", 0))

    # ----- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The public JSON of the collection (secrets stripped)."""
        out: dict[str, Any] = {"id": self.id}
        for rule in RULE_NAMES:
            out[rule] = self.rules.get(rule)
        out.update(
            name=self.name,
            type=self.type,
            fields=[dict(sorted(f.to_dict().items())) for f in self.fields],
            indexes=list(self.indexes),
            created=self.created,
            updated=self.updated,
            system=self.system,
        )
        for key, value in self.options.items():
            if key in TOKEN_OPTIONS and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "secret"}
            elif key == "oauth2" and isinstance(value, dict):
                value = _strip_oauth2_secrets(value)
            out[key] = copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Collection:
        """Build from the stored/complete JSON form (fields must already be valid types)."""
        known = {"id", "name", "type", "system", "fields", "indexes", "created", "updated", *RULE_NAMES}
        return cls(
            id=data["id"],
            name=data["name"],
            type=data.get("type", BASE),
            system=bool(data.get("system", False)),
            fields=[field_from_dict(f) for f in data.get("fields", [])],
            indexes=list(data.get("indexes", [])),
            rules={r: data.get(r) for r in RULE_NAMES},
            options={k: copy.deepcopy(v) for k, v in data.items() if k not in known and k != "version"},
            created=data.get("created", ""),
            updated=data.get("updated", ""),
            version=int(data.get("version", 0)),
        )

    def to_storage(self) -> dict[str, Any]:
        """Complete JSON including secrets, as persisted in ``_collections``."""
        data = self.to_dict()
        data.update({k: copy.deepcopy(v) for k, v in self.options.items()})
        return data


def _strip_oauth2_secrets(block: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(block)
    for provider in out.get("providers", []) or []:
        if isinstance(provider, dict):
            provider.pop("clientSecret", None)
    return out
