"""Password hashes: bcrypt compatible with PocketBase, and argon2id as an opt-in policy.

Go writes ``$2a$`` bcrypt hashes; the ``bcrypt`` package writes ``$2b$``. Both prefixes describe
the same algorithm for passwords under 72 bytes, so bcrypt hashes are emitted with ``$2a$``
(byte-for-byte like PocketBase) and either prefix verifies.

Which algorithm new hashes use is a runtime setting (see :mod:`roost.core.records.password_policy`).
Verification always accepts both, so a database moved from PocketBase keeps working, and a
login with a hash of the other kind (or weaker parameters) is rehashed by the login flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

DEFAULT_COST = 10
MIN_COST = 4
MAX_COST = 31
#: bcrypt only looks at the first 72 bytes; PocketBase limits passwords to 71 characters
MAX_PASSWORD_BYTES = 72
ARGON2_PREFIX = "$argon2id$"


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost: iterations, memory in KiB and lanes (argon2-cffi's RFC 9106 low-memory profile)."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_cost, parallelism=self.parallelism
        )


def hash_password(plain: str, cost: int = 0, argon2: Argon2Params | None = None) -> str:
    """Hash ``plain``: argon2id when ``argon2`` parameters are given, otherwise bcrypt.

    ``cost`` is the bcrypt cost; 0 means PocketBase's default of 10.
    """
    if argon2 is not None:
        return argon2.hasher().hash(plain)
    rounds = cost if cost > 0 else DEFAULT_COST
    secret = plain.encode()[:MAX_PASSWORD_BYTES]  # Go truncates silently; bcrypt 5 would raise
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds, prefix=b"2a"))
    return hashed.decode()


def verify(plain: str, hashed: str) -> bool:
    """True if ``plain`` matches ``hashed`` (bcrypt ``$2a$``/``$2b$``/``$2y$`` or ``$argon2id$``)."""
    if not hashed:
        return False
    if hashed.startswith(ARGON2_PREFIX):
        try:
            return bool(PasswordHasher().verify(hashed, plain))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    if not hashed.startswith("$2"):
        return False
    try:
        return bcrypt.checkpw(plain.encode()[:MAX_PASSWORD_BYTES], hashed.encode())
    except ValueError:
        return False


def verify_password(plain: str, hashed: str) -> bool:
    """Alias of :func:`verify` (the name the auth flows import)."""
    return verify(plain, hashed)


def bcrypt_cost(hashed: str) -> int:
    """The cost of a bcrypt hash (``$2a$10$...`` -> 10), or 0 if it is not one."""
    parts = hashed.split("$")
    if len(parts) < 4 or not parts[1].startswith("2"):
        return 0
    try:
        return int(parts[2])
    except ValueError:
        return 0


def needs_rehash(hashed: str, cost: int = 0, argon2: Argon2Params | None = None) -> bool:
    """True if ``hashed`` is not what :func:`hash_password` would make with these settings now."""
    if argon2 is not None:
        if not hashed.startswith(ARGON2_PREFIX):
            return True
        try:
            return bool(argon2.hasher().check_needs_rehash(hashed))
        except InvalidHashError:
            return True
    if not hashed.startswith("$2"):
        return True
    return bcrypt_cost(hashed) != (cost if cost > 0 else DEFAULT_COST)
