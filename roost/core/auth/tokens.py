"""JWTs as PocketBase makes them: HS256, signed with the record's tokenKey + collection secret."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import jwt
import orjson
from jwt.algorithms import HMACAlgorithm

from roost.core.records.codec import Record
from roost.core.records.save import fetch_record
from roost.core.schema.collection import Collection

if TYPE_CHECKING:
    from roost.core.base import App

AUTH = "auth"
FILE = "file"
VERIFICATION = "verification"
PASSWORD_RESET = "passwordReset"
EMAIL_CHANGE = "emailChange"

#: token type -> the collection option holding its secret and duration
TOKEN_OPTION = {
    AUTH: "authToken",
    FILE: "fileToken",
    VERIFICATION: "verificationToken",
    PASSWORD_RESET: "passwordResetToken",
    EMAIL_CHANGE: "emailChangeToken",
}


#: token -> (signing key it verified with, claims); saves two JWT parses per authenticated request
_verified: dict[str, tuple[str, dict[str, Any]]] = {}
_VERIFIED_MAX = 10_000


@functools.lru_cache(maxsize=4096)
def _checked_hmac_key(key: str) -> bytes:
    return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)


class _HS256(HMACAlgorithm):
    """PyJWT's HS256 with its key check (not empty, not a PEM, SSH, DER or JWK key: about 10 µs of
    parsing attempts) done once per signing key instead of on every token issued."""

    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)

    def prepare_key(self, key: str | bytes) -> bytes:
        return _checked_hmac_key(key) if isinstance(key, str) else super().prepare_key(key)


#: signs the tokens Roost issues (verifying stays with ``jwt.decode``, once per token)
_signer = jwt.PyJWS(algorithms=["HS256"])
_signer.unregister_algorithm("HS256")
_signer.register_algorithm("HS256", _HS256())


def signing_key(coll: Collection, record: Record, token_type: str) -> str:
    return str(record.get("tokenKey", "")) + coll.token_secret(TOKEN_OPTION[token_type])


def issue(coll: Collection, record: Record, token_type: str = AUTH, *, duration: int = 0, **claims: Any) -> str:
    """Sign a token of ``token_type`` for ``record``; ``duration`` 0 means the collection default."""
    seconds = duration or coll.token_duration(TOKEN_OPTION[token_type])
    payload: dict[str, Any] = {
        "collectionId": coll.id,
        "exp": int(time.time()) + seconds,
        "id": record["id"],
        "type": token_type,
        **claims,
    }
    if token_type == AUTH:
        payload.setdefault("refreshable", True)
    # the payload as PyJWT would write it (compact JSON), serialised with orjson
    return _signer.encode(orjson.dumps(payload), signing_key(coll, record, token_type), algorithm="HS256")


def unverified_claims(token: str) -> dict[str, Any] | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def known_claims(token: str) -> dict[str, Any] | None:
    """The claims of ``token``: those kept when it was last verified (the request's own auth
    token, verified moments ago), else decoded without verifying."""
    cached = _verified.get(token)
    return cached[1] if cached else unverified_claims(token)


async def verify(app: App, token: str, token_type: str = AUTH) -> tuple[Collection, Record, dict[str, Any]] | None:
    """The (collection, record, claims) a valid token belongs to, or None for any invalid token."""
    cached = _verified.get(token)
    claims = cached[1] if cached else unverified_claims(token)
    if not claims or claims.get("type") != token_type:
        return None
    coll = app.collections.get(str(claims.get("collectionId", "")))
    if coll is None or not coll.is_auth or coll.id != claims.get("collectionId"):
        return None
    record = await fetch_record(app, coll, str(claims.get("id", "")))
    if record is None:
        return None
    key = signing_key(coll, record, token_type)
    if cached and cached[0] == key:
        # verified before with this exact key (so tokenKey and secret are unchanged): only expiry can differ
        return (coll, record, claims) if int(claims.get("exp", 0)) > time.time() else None
    try:
        verified = jwt.decode(token, key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.pop(next(iter(_verified)))
    _verified[token] = (key, verified)
    return coll, record, verified
