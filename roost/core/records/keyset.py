"""Keyset (cursor) pagination for record lists, a Roost extension that PocketBase does not have.

A list request that passes ``cursor`` (empty for the first page) is answered in sort order from
just after the last record of the previous page, found by comparing the sort keys instead of
skipping ``OFFSET`` rows, so page 2,000 costs what page 1 costs. The cursor carries the sort key
values of that last record (the record id is always the final tie-breaker), typed so that each
value goes back to the driver as the type it came out as. Those values may be ones the caller
cannot read (a guest may sort by a hidden e-mail), so the cursor is sealed with AES-GCM: opaque to
the client, and authenticated together with the collection and the sort text, so it cannot be
altered or replayed against another list. It is not an access token: the list rule and the filter
apply to every page as usual.

NULL is the smallest value on every supported database (SQLite and MySQL natively, PostgreSQL
through ``NULLS FIRST``/``NULLS LAST`` in the dialect), which the seek condition relies on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roost.core.errors import BadRequest, FieldError
from roost.tools.filter import Binder, SortKey, get_dialect

if TYPE_CHECKING:
    from roost.core.base import App
    from roost.core.schema.collection import Collection

VERSION = 2  # 1 was base64 JSON with an HMAC, readable by the client
_NONCE = 12
INVALID = "The cursor is invalid or does not belong to this collection and sort."
_ENCODERS: dict[type, tuple[str, Any]] = {
    bool: ("b", bool), int: ("i", int), float: ("f", float), str: ("s", str), Decimal: ("d", str),
    dt.datetime: ("t", dt.datetime.isoformat), dt.date: ("D", dt.date.isoformat), bytes: ("x", bytes.hex),
}
_DECODERS: dict[str, Any] = {
    "b": bool, "i": int, "f": float, "s": str, "d": Decimal,
    "t": dt.datetime.fromisoformat, "D": dt.date.fromisoformat, "x": bytes.fromhex,
}


def invalid_cursor() -> BadRequest:
    return BadRequest(INVALID, {"cursor": FieldError("validation_invalid_cursor", INVALID)})


def cursor_secret(app: App) -> bytes:
    """A 256-bit key every instance sharing the database agrees on, from the superusers' token secret."""
    superusers = app.collections.get("_superusers")
    secret = superusers.token_secret("authToken") if superusers is not None else ""
    return hashlib.sha256(b"roost-list-cursor\0" + secret.encode()).digest()


def mark_not_null(keys: list[SortKey], coll: Collection, alias: str, dialect: str) -> list[SortKey]:
    """``keys`` with the plain NOT NULL columns of ``coll`` marked as such (view columns never are)."""
    if coll.is_view:
        return keys
    quote = get_dialect(dialect).quote  # as the resolver writes a column
    not_null = {f"{alias}.{quote(f.name)}" for f in coll.fields if "NOT NULL" in f.column_type(dialect)}
    return [replace(k, nullable=False) if k.sql in not_null else k for k in keys]


def cursor_scope(coll: Collection, sort: str) -> str:
    return f"{coll.id}\0{sort.strip()}"


def _tag(value: Any) -> list[Any]:
    if value is None:
        return ["n"]
    encoder = _ENCODERS.get(type(value))
    if encoder is None:  # a driver type we do not know how to carry: never resumable
        raise invalid_cursor()
    return [encoder[0], encoder[1](value)]


def _untag(item: Any) -> Any:
    if item == ["n"]:
        return None
    if not (isinstance(item, list) and len(item) == 2 and item[0] in _DECODERS):
        raise ValueError("bad value")
    return _DECODERS[item[0]](item[1])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(scope: str) -> bytes:
    return VERSION.to_bytes(1, "big") + scope.encode()


def encode_cursor(secret: bytes, scope: str, values: list[Any]) -> str:
    """The opaque cursor resuming after a row whose sort keys are ``values``."""
    nonce = os.urandom(_NONCE)  # random per cursor: 2^-32 collision odds only after ~2^32 cursors per key
    sealed = AESGCM(secret).encrypt(nonce, orjson.dumps([_tag(v) for v in values]), _aad(scope))
    return _b64(VERSION.to_bytes(1, "big") + nonce + sealed)


def decode_cursor(secret: bytes, scope: str, text: str, count: int) -> list[Any]:
    """The sort key values of a cursor made for ``scope``; BadRequest for anything else."""
    try:
        raw = _unb64(text)
        if len(raw) <= 1 + _NONCE or raw[0] != VERSION:
            raise ValueError("bad version")
        tagged = orjson.loads(AESGCM(secret).decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], _aad(scope)))
        if not isinstance(tagged, list) or len(tagged) != count:
            raise ValueError("bad shape")
        return [_untag(item) for item in tagged]
    except (ValueError, TypeError, binascii.Error, InvalidTag) as exc:  # JSONDecodeError is a ValueError
        raise invalid_cursor() from exc


def seek_condition(keys: list[SortKey], values: list[Any], binder: Binder) -> str:
    """SQL true for the rows that sort strictly after ``values`` (NULL sorting first).

    ``(k1 after v1) OR (k1 = v1 AND k2 after v2) OR ...``; the first key's bound is repeated on
    its own so an index on it can start the scan at the cursor.
    """
    names = []
    for value in values:
        name = f"{binder.prefix}k{len(binder.params)}"
        binder.params[name] = value  # as the driver returned it: no cast, the column types it
        names.append(f":{name}")
    branches = []
    for i, key in enumerate(keys):
        same = [_same(k, v, n) for k, v, n in zip(keys[:i], values[:i], names[:i], strict=True)]
        branches.append(" AND ".join([*same, _after(key, values[i], names[i])]))
    condition = " OR ".join(f"({b})" for b in branches)
    first = _not_before(keys[0], values[0], names[0])
    return f"({first}) AND ({condition})" if first else f"({condition})"


def _same(key: SortKey, value: Any, name: str) -> str:
    return f"{key.sql} IS NULL" if value is None else f"{key.sql} = {name}"


def _after(key: SortKey, value: Any, name: str) -> str:
    if value is None:
        return "1 = 0" if key.descending else f"{key.sql} IS NOT NULL"
    if not key.descending:
        return f"{key.sql} > {name}"
    return f"{key.sql} < {name}" if not key.nullable else f"({key.sql} < {name} OR {key.sql} IS NULL)"


def _not_before(key: SortKey, value: Any, name: str) -> str:
    if value is None:
        return f"{key.sql} IS NULL" if key.descending else ""
    if not key.descending:
        return f"{key.sql} >= {name}"
    return f"{key.sql} <= {name}" if not key.nullable else f"({key.sql} <= {name} OR {key.sql} IS NULL)"
