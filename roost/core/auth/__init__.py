"""Authentication: password hashing, tokens and auth flows."""

from __future__ import annotations

from roost.tools.security.passwords import hash_password, verify, verify_password

__all__ = ["hash_password", "verify", "verify_password"]
