"""S14: a canary scan of every response and log line of the test run.

Across the session (each xdist worker scans its own share) this records the secrets a Roost
server must never hand out, and fails the test during which one reached a client or a log:

* every password hash made in this process (``bcrypt.hashpw``, argon2's ``PasswordHasher.hash``),
  OTP code hashes included;
* the ``tokenKey`` and hash of every auth record an in-process ``App`` stores (its after-commit
  hook, plus what is in its database when it boots);
* what ``roost serve`` subprocesses store, read from their SQLite file when it has changed
  (servers started through ``tests/e2e/servers.py`` and ``tests/reliability/procs.py``);
* every API key (``rk_...``) a test client sends in ``Authorization`` or ``X-API-Key``;
* every value a test client sends under a password key (``password``, ``passwordConfirm``,
  ``oldPassword``), in JSON or form bodies: the SMTP password of the settings too. Not the
  ``password`` of ``auth-with-otp``, which is a one-time code, not a password: 8 digits (a
  test's deliberate "00000000" among them) also occur by chance in unrelated data, e.g. a
  passkey's all-zero AAGUID, so they would be false findings. Plain passwords are not looked
  for in file downloads either (see ``Canary.body_chunk``); stored secrets are.

Scanned: the headers and body of every response an ``httpx`` client of this process receives
(in-process ``ASGITransport`` and live servers, streams chunk by chunk), every record of the
``roost`` loggers (at DEBUG, with tracebacks), and the log file of each server subprocess when it
stops. Not scanned: what the JS SDK (node), Playwright's browser, ``websockets`` clients and
schemathesis (``requests``) receive, and the databases of subprocesses on PostgreSQL or MySQL.

A finding is reported once per test, at its teardown, naming the kind of secret and the
request (or logger) that carried it; the secret itself is shown by its first 6 characters.
The seams and the pytest hooks are in ``tests/canary_plugin.py``; this module holds the state
that test helpers (live servers) and ``test_canary_scan.py`` talk to.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from tests.canary_scan import (
    API_KEY,
    OVERLAP,
    PASSWORD,
    PASSWORD_HASH,
    TOKEN_KEY,
    Finding,
    SecretBook,
    sample,
)

#: request body keys whose values are passwords (auth records, the SMTP settings)
PASSWORD_KEYS = frozenset({"password", "passwordConfirm", "oldPassword", "newPassword"})


class Canary:
    """The secrets of this process and what was found since the last report."""

    def __init__(self) -> None:
        self.book = SecretBook()
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, bytes, str, str]] = set()
        self.servers: dict[str, LiveDatabase] = {}
        #: what was scanned, for the run's summary line
        self.counts = {
            "responses": 0,
            "body bytes": 0,
            "log lines": 0,
            "server logs": 0,
            "leaks reported": 0,
        }

    def scan(self, data: bytes, where: str, source: str, *, plain: bool = True) -> None:
        for kind, secret in self.book.find(data, plain=plain):
            key = (kind, secret, where, source)
            if key not in self._seen:
                self._seen.add(key)
                self.findings.append(Finding(kind, where, source, sample(secret)))

    def take(self) -> list[Finding]:
        found, self.findings = self.findings, []
        self._seen.clear()
        return found

    # ----- what a test client sends and receives ----------------------------------------------
    def request_sent(self, request: httpx.Request) -> None:
        for value in _password_values(request):
            self.book.add(PASSWORD, value)
        for header in ("authorization", "x-api-key"):
            value = request.headers.get(header, "").removeprefix("Bearer ").strip()
            if value.startswith("rk_"):
                self.book.add(API_KEY, value)  # shown once when created, then never again

    def response_received(self, response: httpx.Response) -> None:
        self.counts["responses"] += 1
        self.sweep_server(response.request.url)
        source = _source(response.request)
        for name, value in response.headers.multi_items():
            text = f"{name}: {value}\n{unquote(value)}"  # a Location may carry a secret URL-encoded
            self.scan(text.encode(), f"response header {name}", source)
        if response.__dict__.pop("_canary_unread", False):  # built with content=, read before send
            self.scan(response.content, "response body", source)

    def body_chunk(self, response: httpx.Response, chunk: bytes) -> None:
        self.counts["body bytes"] += len(chunk)
        state = response.__dict__.setdefault("_canary_tail", [b""])
        # a file download serves back the bytes a client uploaded: any 8 characters a test once
        # used as a password may be in them ("12345678" is in bytes(range(256))), so only
        # stored secrets are looked for there
        plain = not response.request.url.path.startswith("/api/files/")
        self.scan(state[0] + chunk, "response body", _source(response.request), plain=plain)
        state[0] = (state[0] + chunk)[-OVERLAP:]

    # ----- live servers in subprocesses -------------------------------------------------------
    def watch_server(self, base_url: str, data_dir: Path, log_path: Path) -> None:
        live = self.servers.setdefault(base_url.rstrip("/"), LiveDatabase(data_dir, log_path))
        live.sweep(self.book)

    def server_stopped(self, base_url: str) -> None:
        live = self.servers.pop(base_url.rstrip("/"), None)
        if live is not None:
            live.sweep(self.book)
            self.counts["server logs"] += 1
            log = live.unread_log()
            self.scan(log, "server log", str(live.log_path), plain=False)
            self.scan(_without_request_urls(log), "server log", str(live.log_path))

    def sweep_server(self, url: httpx.URL) -> None:
        live = self.servers.get(f"{url.scheme}://{url.netloc.decode()}")
        if live is not None:
            live.sweep(self.book)


class LiveDatabase:
    """The SQLite file and the log of one ``roost serve`` subprocess."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.db_path = data_dir / "data.db"
        self.log_path = log_path
        self._stamp: tuple[int, ...] = ()
        self._log_offset = 0

    def sweep(self, book: SecretBook) -> None:
        """Record the tokenKeys and hashes of every auth collection, if the file changed."""
        stamp = tuple(
            n
            for suffix in ("", "-wal")
            for s in _stat(Path(f"{self.db_path}{suffix}"))
            for n in (s.st_mtime_ns, s.st_size)
        )
        if not stamp or stamp == self._stamp:
            return
        with (
            contextlib.suppress(
                sqlite3.Error
            ),  # not bootstrapped yet, or busy: the next answer sweeps
            contextlib.closing(sqlite3.connect(self.db_path, timeout=5)) as db,
        ):
            names = [
                row[0]
                for row in db.execute('SELECT "name" FROM "_collections" WHERE "type" = \'auth\'')
            ]
            for name in names:
                quoted = '"' + name.replace('"', '""') + '"'
                for token_key, password in db.execute(
                    f'SELECT "tokenKey", "password" FROM {quoted}'
                ):
                    book.add(TOKEN_KEY, str(token_key))
                    book.add(PASSWORD_HASH, str(password))
            self._stamp = stamp

    def unread_log(self) -> bytes:
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(max(self._log_offset - OVERLAP, 0))
            data = log.read()
            self._log_offset = log.tell()
            return data
        return b""


def _without_request_urls(log: bytes) -> bytes:
    """``log`` with the request line's URL left out of each JSON request line: a URL is what the
    client itself sent (a test's filter may hold a password it guesses, a path may hold an id
    with the digits of a test password), so plain passwords are not looked for there. Stored
    secrets (hashes, token keys, API keys) are looked for in the whole log."""
    kept = []
    for line in log.splitlines(keepends=True):
        if b'"logger":"roost.request"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                entry.pop("url", None)
                entry.pop("message", None)
                line = json.dumps(entry).encode() + b"\n"
        kept.append(line)
    return b"".join(kept)


def _stat(path: Path) -> list[os.stat_result]:
    try:
        return [path.stat()]
    except OSError:
        return []


def _source(request: httpx.Request | None) -> str:
    return (
        f"{request.method} {request.url}" if request is not None else "a response built in the test"
    )


def _password_values(request: httpx.Request) -> list[str]:
    if request.url.path.endswith("/auth-with-otp"):
        return []  # a one-time code under the "password" key (see the module docstring)
    try:
        body = request.content
    except httpx.RequestNotRead:  # a streamed upload: multipart with files
        return []
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        try:
            return list(_walk_passwords(json.loads(body)))
        except (ValueError, RecursionError):  # not JSON, or deeper than the json module goes
            return []
    if "x-www-form-urlencoded" in kind:
        return [v for k, v in parse_qsl(body.decode(errors="replace")) if k in PASSWORD_KEYS]
    return []


def _walk_passwords(value: Any) -> Iterator[str]:
    stack = [value]  # iterative: the suite sends JSON nested 1,000 deep on purpose
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key in PASSWORD_KEYS and isinstance(child, str):
                    yield child
                else:
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


CANARY = Canary()
