"""The secrets a Roost server must never hand out, and a scanner that finds them in bytes.

Three kinds are kept: the stored ``tokenKey`` of auth records, stored password hashes (bcrypt
``$2a$``/``$2b$``..., argon2id) and the plain passwords the tests send or have hashed. Scanning is
linear in the text: hashes and default-shaped tokenKeys are found by their shape and then looked
up in a set, so thousands of known secrets cost no more than a few; only plain passwords (a few
dozen distinct values in a run) and odd-shaped tokenKeys are searched for one by one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

TOKEN_KEY = "stored tokenKey"
PASSWORD_HASH = "stored password hash"
PASSWORD = "plain password"
API_KEY = "API key"

#: the default tokenKey pattern is ``[a-zA-Z0-9]{50}``; runs are cut into 50-byte windows
_TOKEN_KEY_LENGTH = 50
_ALNUM_RUN = re.compile(rb"[A-Za-z0-9]{50,}")
_TOKEN_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{50}")
_HASH_SHAPE = re.compile(
    rb"\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}"
    rb"|\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
)
#: PocketBase's minimum password length: anything shorter was never a stored password, and
#: short strings ("abc", "1234") turn up in unrelated responses by chance (so does one
#: character repeated: "00000000" is in every all-zero UUID)
MIN_PASSWORD_LENGTH = 8
#: longer than any secret kept, so a secret split over two chunks of a stream is still seen
OVERLAP = 256


@dataclass(frozen=True)
class Finding:
    """One secret seen where it must not be."""

    kind: str
    where: str  # "response body", "response header set-cookie", "log roost.http", "server log"
    source: str  # the request (method and URL), the logger, or the log file
    sample: str  # the first characters of the secret, enough to find it in a debugger

    def describe(self) -> str:
        return f"a {self.kind} ({self.sample}...) in the {self.where} of {self.source}"


class SecretBook:
    """Every secret recorded so far in this process."""

    def __init__(self) -> None:
        self._token_keys: set[bytes] = set()
        self._hashes: dict[bytes, str] = {}
        #: searched for literally: plain passwords, tokenKeys of a custom pattern
        self._literals: dict[bytes, str] = {}

    def __len__(self) -> int:
        return len(self._token_keys) + len(self._hashes) + len(self._literals)

    def add(self, kind: str, value: str) -> None:
        if not value:
            return
        if kind == TOKEN_KEY and _TOKEN_KEY_SHAPE.fullmatch(value):
            self._token_keys.add(value.encode())
        elif kind == PASSWORD_HASH and _HASH_SHAPE.fullmatch(value.encode()):
            self._hashes[value.encode()] = kind
        elif kind == PASSWORD and (len(value) < MIN_PASSWORD_LENGTH or len(set(value)) == 1):
            return  # too short, or one repeated character ("00000000"): found by chance elsewhere
        else:
            for form in {value, json.dumps(value)[1:-1]}:  # as sent, and as it reads inside JSON
                self._literals[form.encode()] = kind

    def knows(self, value: str) -> bool:
        raw = value.encode()
        return raw in self._token_keys or raw in self._hashes or raw in self._literals

    def find(self, data: bytes, *, plain: bool = True) -> list[tuple[str, bytes]]:
        """The (kind, secret) pairs that occur in ``data``; stored secrets only unless ``plain``."""
        found: list[tuple[str, bytes]] = []
        if self._hashes:
            found += [(self._hashes[m], m) for m in _HASH_SHAPE.findall(data) if m in self._hashes]
        if self._token_keys:
            for run in _ALNUM_RUN.findall(data):
                for start in range(len(run) - _TOKEN_KEY_LENGTH + 1):
                    window = run[start : start + _TOKEN_KEY_LENGTH]
                    if window in self._token_keys:
                        found.append((TOKEN_KEY, window))
        if plain:
            found += [(kind, lit) for lit, kind in self._literals.items() if lit in data]
        else:  # odd-shaped tokenKeys are stored secrets too
            found += [
                (kind, lit)
                for lit, kind in self._literals.items()
                if kind != PASSWORD and lit in data
            ]
        return found


def sample(secret: bytes) -> str:
    return secret[:6].decode(errors="replace")
