"""Keyset (cursor) pagination for record lists, a Roost extension that PocketBase does not have.

A list request that passes ``cursor`` (empty for the first page) is answered in sort order from
just after the last record of the previous page, found by comparing the sort keys instead of
skipping ``OFFSET`` rows, so page 2,000 costs what page 1 costs. The cursor carries the sort key
values of that last record (the record id is always the final tie-breaker), typed so that each
value goes back to the driver as the type it came out as, and an HMAC that binds it to the
collection and the sort text. It is not an access token: the list rule and the filter apply to
every page as usual.

NULL is the smallest value on every supported database (SQLite and MySQL natively, PostgreSQL
through ``NULLS FIRST``/``NULLS LAST`` in the dialect), which the seek condition relies on.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from roost.core.errors import BadRequest, FieldError
from roost.tools.filter import Binder, SortKey, get_dialect

if TYPE_CHECKING:
    from roost.core.app import App
    from roost.core.collections import Collection

VERSION = 1
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
    """A key every instance sharing the database agrees on: the superusers' token secret."""
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


def _mac(secret: bytes, scope: str, payload: bytes) -> bytes:
    return hmac.new(secret, scope.encode() + b"\0" + payload, hashlib.sha256).digest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(secret: bytes, scope: str, values: list[Any]) -> str:
    """The opaque cursor resuming after a row whose sort keys are ``values``."""
    payload = orjson.dumps([VERSION, [_tag(v) for v in values]])
    return f"{_b64(payload)}.{_b64(_mac(secret, scope, payload))}"


def decode_cursor(secret: bytes, scope: str, text: str, count: int) -> list[Any]:
    """The sort key values of a cursor made for ``scope``; BadRequest for anything else."""
    try:
        payload_text, mac_text = text.split(".")
        payload = _unb64(payload_text)
        if not hmac.compare_digest(_unb64(mac_text), _mac(secret, scope, payload)):
            raise ValueError("bad mac")
        version, tagged = orjson.loads(payload)
        if version != VERSION or not isinstance(tagged, list) or len(tagged) != count:
            raise ValueError("bad shape")
        return [_untag(item) for item in tagged]
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
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
