"""Reading a PocketBase 0.23+ data dir: recognising it, its collections, settings and rows.

The database is opened read-only with the standard library's ``sqlite3``. PocketBase keeps its
settings in ``_params`` as plain JSON, or, when it runs with ``--encryptionEnv``, sealed with
AES-256-GCM under that 32-character key (base64 of the 12-byte nonce and the ciphertext).
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roost.core.db.facade import quote_ident

#: PocketBase's collection-level columns; everything in ``options`` is flattened next to them
RULES = ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")
#: rows inserted per statement
BATCH = 500


class ImportRefused(Exception):
    """The import cannot start (or go on) as asked; the message says what to do instead."""


# ----- recognising a PocketBase data dir -------------------------------------------------------
def is_pocketbase_dir(path: Path) -> bool:
    """True when ``path/data.db`` is a PocketBase 0.23+ database (its ``_collections`` has a
    ``fields`` column and none of Roost's ``data``)."""
    db = Path(path) / "data.db"
    if not db.is_file():
        return False
    try:
        with closing(connect(db)) as conn:
            columns = {row[1] for row in conn.execute('PRAGMA table_info("_collections")')}
    except sqlite3.Error:
        return False
    return "fields" in columns and "data" not in columns


def pocketbase_dir_message(path: Path) -> str:
    """The one line that tells someone who pointed Roost at a PocketBase data dir what to do."""
    return (
        f"{path} holds PocketBase data, which Roost does not serve directly: bring it in with "
        f"`roost import pocketbase {path} --dir NEW_ROOST_DIR`, then serve NEW_ROOST_DIR."
    )


class PocketBaseDataDir(RuntimeError):
    """Roost was started on a PocketBase data dir (see :func:`pocketbase_dir_message`)."""


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


# ----- reading the source -----------------------------------------------------------------------
@dataclass
class SourceCollection:
    """One row of PocketBase's ``_collections``, as the collections API would show it."""

    data: dict[str, Any]
    system: bool

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def type(self) -> str:
        return str(self.data.get("type") or "base")


def read_collections(conn: sqlite3.Connection) -> list[SourceCollection]:
    """Every collection of the source, in PocketBase's creation order."""
    out: list[SourceCollection] = []
    for row in conn.execute('SELECT * FROM "_collections" ORDER BY "created", "id"'):
        data: dict[str, Any] = {
            "id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "fields": orjson.loads(row["fields"] or "[]"),
            "indexes": orjson.loads(row["indexes"] or "[]"),
        }
        for rule in RULES:
            data[rule] = row[rule]
        options = orjson.loads(row["options"] or "{}")
        if isinstance(options, dict):
            data.update(options)
        out.append(SourceCollection(data, bool(row["system"])))
    return out


def read_settings(
    conn: sqlite3.Connection, encryption_key: str
) -> tuple[dict[str, Any] | None, str]:
    """PocketBase's app settings, and a word on how they were found."""
    try:
        row = conn.execute('SELECT "value" FROM "_params" WHERE "id" = ?', ("settings",)).fetchone()
    except sqlite3.Error:
        return None, "not present"
    if row is None or not row["value"]:
        return None, "not present"
    raw = row["value"]
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    if isinstance(value, dict):
        return value, "imported"
    if not encryption_key:
        return None, (
            "NOT imported: PocketBase stored them encrypted (it ran with --encryptionEnv); "
            "run the import again with --encryptionEnv naming the variable that holds the same key"
        )
    try:
        return orjson.loads(_open_sealed(str(value), encryption_key)), "imported (decrypted)"
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ImportRefused(
            f"the settings could not be decrypted with the given key ({exc})"
        ) from exc


def _open_sealed(text: str, key: str) -> bytes:
    """Decrypt PocketBase's sealed value: base64 of a 12-byte nonce then AES-256-GCM ciphertext."""
    if len(key.encode()) != 32:
        raise ValueError("the key must be 32 characters long")
    sealed = base64.b64decode(text)
    try:
        return AESGCM(key.encode()).decrypt(sealed[:12], sealed[12:], None)
    except InvalidTag as exc:
        raise ValueError("wrong key") from exc


def rows(conn: sqlite3.Connection, table: str) -> Iterator[sqlite3.Row]:
    cursor = conn.execute(f"SELECT * FROM {quote_ident(table, 'sqlite')} ORDER BY rowid")
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def encryption_key_from_env(name: str) -> str:
    """The value of the environment variable ``name`` (PocketBase's ``--encryptionEnv``)."""
    if not name:
        return ""
    value = os.environ.get(name, "")
    if not value:
        raise ImportRefused(f"the environment variable {name} is empty or not set")
    return value
