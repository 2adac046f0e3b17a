"""Encryption at rest for secrets inside settings (``ROOST_ENCRYPTION_KEY``).

Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the
configured passphrase, and stored as ``enc:v1:<token>`` so plain values written before a key
was set still load.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "enc:v1:"
log = logging.getLogger("roost.settings")


class SecretBox:
    def __init__(self, passphrase: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        if not plain or plain.startswith(PREFIX):
            return plain
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        """The plain value; "" (and a warning) if it was sealed under another key."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            log.warning("a stored secret cannot be decrypted with the configured ROOST_ENCRYPTION_KEY")
            return ""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
