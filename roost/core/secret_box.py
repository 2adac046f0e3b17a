"""Encryption at rest for the stored settings and TOTP secrets (``ROOST_ENCRYPTION_KEY``, or the
variable ``--encryptionEnv`` names).

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


WRONG_KEY = (
    "The stored settings cannot be decrypted with the configured encryption key "
    "(--encryptionEnv or ROOST_ENCRYPTION_KEY): start Roost with the key they were saved with."
)
MISSING_KEY = (
    "The stored settings are encrypted: start Roost with --encryptionEnv naming the variable "
    "that holds their key (or set ROOST_ENCRYPTION_KEY)."
)


class WrongEncryptionKey(Exception):
    """Sealed settings cannot be opened: no key, or another key than the one they were sealed with."""


class SecretBox:
    def __init__(self, passphrase: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        if not plain or plain.startswith(PREFIX):
            return plain
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open_strict(self, stored: str) -> str:
        """The plain value; raises :class:`WrongEncryptionKey` if it was sealed under another key."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise WrongEncryptionKey(WRONG_KEY) from exc

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
