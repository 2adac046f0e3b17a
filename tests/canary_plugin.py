"""The pytest side of the canary scan (``tests/canary.py``): where secrets and traffic are
observed, and where findings fail a test. Registered by ``tests/conftest.py``.

The seams are third-party or public ones: ``httpx``'s clients and responses (every test
client, in-process or live), ``bcrypt.hashpw`` and argon2's ``PasswordHasher.hash`` (every
hash made here, whichever Roost module makes it), ``App.bootstrap`` (to join each app's
after-commit hook) and a handler on the ``roost`` logger.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.canary import CANARY
from tests.canary_scan import PASSWORD_HASH, TOKEN_KEY


# ----- the seams: httpx, the hash functions, Roost's App, the roost loggers -------------------
class _Patches:
    """Every wrapper the plugin installs, so unconfigure puts the originals back."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Any) -> None:
        original = getattr(owner, name)
        self._undo.append((owner, name, original))
        setattr(owner, name, make(original))

    def undo(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def _send(original: Any) -> Any:
    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        CANARY.request_sent(request)
        response = original(self, request, **kwargs)
        CANARY.response_received(response)
        return response

    return send


def _async_send(original: Any) -> Any:
    async def send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        CANARY.request_sent(request)
        response = await original(self, request, **kwargs)
        CANARY.response_received(response)
        return response

    return send


def _iter_bytes(original: Any) -> Any:
    def iter_bytes(self: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        fresh = not hasattr(self, "_content")  # a cached body was scanned when it was read
        for chunk in original(self, chunk_size):
            if fresh:
                _chunk(self, chunk)
            yield chunk

    return iter_bytes


def _aiter_bytes(original: Any) -> Any:
    async def aiter_bytes(
        self: httpx.Response, chunk_size: int | None = None
    ) -> AsyncIterator[bytes]:
        fresh = not hasattr(self, "_content")
        async for chunk in original(self, chunk_size):
            if fresh:
                _chunk(self, chunk)
            yield chunk

    return aiter_bytes


def _chunk(response: httpx.Response, chunk: bytes) -> None:
    if response._request is None:
        response.__dict__["_canary_unread"] = True  # scanned by send, once the request is known
        return
    if not response.__dict__.get("_canary_swept"):
        response.__dict__["_canary_swept"] = True
        CANARY.sweep_server(response._request.url)  # the write behind this answer is committed
    CANARY.body_chunk(response, chunk)


def _hashpw(original: Any) -> Any:
    def hashpw(password: bytes, salt: bytes) -> bytes:
        hashed: bytes = original(password, salt)
        CANARY.book.add(PASSWORD_HASH, hashed.decode())
        return hashed

    return hashpw


def _argon2_hash(original: Any) -> Any:
    def hash_(self: Any, password: str | bytes, *args: Any, **kwargs: Any) -> str:
        hashed: str = original(self, password, *args, **kwargs)
        CANARY.book.add(PASSWORD_HASH, hashed)
        return hashed

    return hash_


def _bootstrap(original: Any) -> Any:
    async def bootstrap(self: Any) -> None:
        await original(self)
        if not getattr(self, "_canary_watched", False):
            self._canary_watched = True
            for hook in self.hooks.records_committed():
                hook.bind(_record_committed, id="canary", priority=-10_000)
            await _sweep_app(self)

    return bootstrap


async def _record_committed(event: Any) -> None:
    if event.collection.is_auth:
        CANARY.book.add(TOKEN_KEY, str(event.record.get("tokenKey") or ""))
        CANARY.book.add(PASSWORD_HASH, str(event.record.get("password") or ""))
    await event.next()


async def _sweep_app(app: Any) -> None:
    """What the database already held when the app booted (a data dir written by the CLI)."""
    from roost.core.db.facade import quote_ident

    for coll in app.collections.all():
        if coll.is_auth:
            columns = (
                f"{quote_ident('tokenKey', app.dialect)}, {quote_ident('password', app.dialect)}"
            )
            for row in await app.db.fetch_all(
                f"SELECT {columns} FROM {quote_ident(coll.table, app.dialect)}"
            ):
                CANARY.book.add(TOKEN_KEY, str(row["tokenKey"] or ""))
                CANARY.book.add(PASSWORD_HASH, str(row["password"] or ""))


class _LogScan(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log call must never fail because of the scan
            CANARY.counts["log lines"] += 1
            CANARY.scan(
                self.format(record).encode(errors="replace"),
                f"log {record.name}",
                f"logger {record.name}",
            )


_PATCHES = _Patches()
_LOG_HANDLER = _LogScan(logging.DEBUG)
_saved_level: list[int] = []


def pytest_configure(config: pytest.Config) -> None:
    import argon2
    import bcrypt

    from roost.core.app import App

    _PATCHES.wrap(httpx.Client, "send", _send)
    _PATCHES.wrap(httpx.AsyncClient, "send", _async_send)
    _PATCHES.wrap(httpx.Response, "iter_bytes", _iter_bytes)
    _PATCHES.wrap(httpx.Response, "aiter_bytes", _aiter_bytes)
    _PATCHES.wrap(bcrypt, "hashpw", _hashpw)
    _PATCHES.wrap(argon2.PasswordHasher, "hash", _argon2_hash)
    _PATCHES.wrap(App, "bootstrap", _bootstrap)
    roost_log = logging.getLogger("roost")
    _saved_level.append(roost_log.level)
    roost_log.setLevel(logging.DEBUG)  # lines a --dev server would write are scanned too
    roost_log.addHandler(_LOG_HANDLER)


def pytest_unconfigure(config: pytest.Config) -> None:
    _PATCHES.undo()
    roost_log = logging.getLogger("roost")
    roost_log.removeHandler(_LOG_HANDLER)
    if _saved_level:
        roost_log.setLevel(_saved_level.pop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Fail the test during which a secret was seen (module fixtures that stop here included)."""
    try:
        return (yield)
    finally:
        found = CANARY.take()
        if found:
            CANARY.counts["leaks reported"] += len(found)
            lines = "\n  ".join(f.describe() for f in found)
            pytest.fail(
                f"canary scan: {len(found)} secret(s) left the server:\n  {lines}", pytrace=False
            )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = CANARY.take()  # seen after the last test's teardown (session fixtures of other plugins)
    if found:
        CANARY.counts["leaks reported"] += len(found)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for finding in found:
            if reporter is not None:
                reporter.write_line(f"canary scan: {finding.describe()}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    counts = {**CANARY.counts, "secrets recorded": len(CANARY.book)}
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller adds up every worker's counts
        workeroutput["canary"] = counts
    else:
        _add_counts(counts)


_TOTALS: dict[str, int] = {}


def _add_counts(counts: dict[str, int]) -> None:
    for key, value in counts.items():
        _TOTALS[key] = _TOTALS.get(key, 0) + value


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _add_counts(getattr(node, "workeroutput", {}).get("canary", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TOTALS.get("responses"):
        figures = ", ".join(f"{value:,} {key}" for key, value in _TOTALS.items())
        terminalreporter.write_line(f"canary scan: {figures} (summed over xdist workers)")
