"""bcrypt password hashing compatible with PocketBase (Go's ``golang.org/x/crypto/bcrypt``).

Go writes ``$2a$`` hashes; the ``bcrypt`` package writes ``$2b$``. Both prefixes describe the
same algorithm for passwords under 72 bytes, so hashes are emitted with ``$2a$`` (byte-for-byte
like PocketBase) and either prefix verifies.
"""

from __future__ import annotations

import bcrypt

DEFAULT_COST = 10
MIN_COST = 4
MAX_COST = 31
#: bcrypt only looks at the first 72 bytes; PocketBase limits passwords to 71 characters
MAX_PASSWORD_BYTES = 72


def hash_password(plain: str, cost: int = 0) -> str:
    """Hash ``plain`` with bcrypt; ``cost`` 0 means PocketBase's default of 10."""
    rounds = cost if cost > 0 else DEFAULT_COST
    secret = plain.encode()[:MAX_PASSWORD_BYTES]  # Go truncates silently; bcrypt 5 would raise
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds, prefix=b"2a"))
    return hashed.decode()


def verify(plain: str, hashed: str) -> bool:
    """True if ``plain`` matches the bcrypt ``hashed`` value (``$2a$``/``$2b$``/``$2y$``)."""
    if not hashed or not hashed.startswith("$2"):
        return False
    try:
        return bcrypt.checkpw(plain.encode()[:MAX_PASSWORD_BYTES], hashed.encode())
    except ValueError:
        return False


def verify_password(plain: str, hashed: str) -> bool:
    """Alias of :func:`verify` (the name the auth flows import)."""
    return verify(plain, hashed)
