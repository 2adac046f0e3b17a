"""S14: the run-wide canary scan (``tests/canary.py``) really fires.

A test-only ASGI route hands out a stored tokenKey, hash or password in each place a leak could
hide (a JSON body, a header, a stream chunk boundary, a redirect URL), a ``roost`` logger writes
one, and a server subprocess's log holds one: each is a finding naming the secret's kind and the
request. Ordinary Roost traffic of the same user, superuser included, is not.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from roost.core.records.save import fetch_record
from tests.canary import CANARY
from tests.canary_scan import PASSWORD, PASSWORD_HASH, TOKEN_KEY
from tests.conftest import Api
from tests.reliability.procs import RoostProcess

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
PW = "cnry-scan-pw-1"


async def _user(api: Api) -> tuple[str, str]:
    """A new user's stored tokenKey and password hash."""
    body = {"email": "leak@example.com", "password": PW, "passwordConfirm": PW}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    record = await fetch_record(api.app, api.app.collections.get("users"), res.json()["id"])
    assert record is not None
    return str(record["tokenKey"]), str(record["password"])


def _leaky_app(token_key: str, password_hash: str) -> Any:
    """Answers ``/leak/<place>`` (and a file download) with a secret in that place."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        place = scope["path"].removeprefix("/leak/").removeprefix("/")
        headers = [(b"content-type", b"application/json")]
        chunks = [b'{"ok": true}']
        if place == "body":
            chunks = [b'{"record": {"tokenKey": "' + token_key.encode() + b'"}}']
        elif place == "header":
            headers.append((b"x-debug", password_hash.encode()))
        elif place == "redirect":
            headers.append((b"location", b"/done?h=" + quote(password_hash, safe="").encode()))
        elif place == "stream":  # the hash split over two chunks
            half = len(password_hash) // 2
            chunks = [
                b"data: " + password_hash[:half].encode(),
                password_hash[half:].encode() + b"\n\n",
            ]
        elif place == "password":
            chunks = [b'{"error": "wrong password ' + PW.encode() + b'"}']
        elif place.startswith("api/files/"):  # a download: bytes some client uploaded
            chunks = [b"%PDF " + PW.encode() + b" " + token_key.encode()]
        await send(
            {
                "type": "http.response.start",
                "status": 302 if place == "redirect" else 200,
                "headers": headers,
            }
        )
        for n, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": n < len(chunks) - 1}
            )

    return app


async def test_each_kind_of_leak_is_a_finding_naming_the_request(api: Api) -> None:
    token_key, password_hash = await _user(api)
    assert (
        CANARY.book.knows(token_key) and CANARY.book.knows(password_hash) and CANARY.book.knows(PW)
    )
    assert CANARY.take() == []  # signing up leaked nothing
    transport = httpx.ASGITransport(app=_leaky_app(token_key, password_hash))
    async with httpx.AsyncClient(transport=transport, base_url="http://leaky.test") as client:
        for place in ("body", "header", "redirect", "password", "ok"):
            await client.get(f"/leak/{place}")
        await client.get("/api/files/docs/r1/file.pdf")
        async with client.stream("GET", "/leak/stream") as res:
            async for _ in res.aiter_lines():
                pass
    logging.getLogger("roost.canary_test").warning("rotated key %s", token_key)
    found = {(f.kind, f.where, f.source) for f in CANARY.take()}
    assert found == {
        (TOKEN_KEY, "response body", "GET http://leaky.test/leak/body"),
        (PASSWORD_HASH, "response header x-debug", "GET http://leaky.test/leak/header"),
        (PASSWORD_HASH, "response header location", "GET http://leaky.test/leak/redirect"),
        (PASSWORD, "response body", "GET http://leaky.test/leak/password"),
        (TOKEN_KEY, "response body", "GET http://leaky.test/api/files/docs/r1/file.pdf"),
        (PASSWORD_HASH, "response body", "GET http://leaky.test/leak/stream"),
        (TOKEN_KEY, "log roost.canary_test", "logger roost.canary_test"),
    }


async def test_ordinary_traffic_of_the_owner_and_a_superuser_is_clean(api: Api) -> None:
    await _user(api)
    token = await api.login("users", "leak@example.com", PW)
    me = (await api.call("POST", "/api/collections/users/auth-refresh", token=token)).json()[
        "record"
    ]
    for url in (
        f"/api/collections/users/records/{me['id']}",
        "/api/collections/users/records?fields=*",
    ):
        assert (await api.call("GET", url, token=token)).status_code == 200
        assert (await api.su("GET", url)).status_code == 200
    change = {"oldPassword": PW, "password": PW + "x", "passwordConfirm": PW + "x"}
    assert (
        await api.call(
            "PATCH", f"/api/collections/users/records/{me['id']}", token=token, json=change
        )
    ).status_code == 200
    assert CANARY.take() == []


def test_a_server_subprocess_is_swept_and_its_log_scanned(tmp_path: Path, backend: str) -> None:
    proc = RoostProcess(tmp_path)
    proc.start()
    try:
        body = {"email": "sub@example.com", "password": PW, "passwordConfirm": PW}
        res = httpx.post(f"{proc.base_url}/api/collections/users/records", json=body, timeout=10)
        assert res.status_code == 200, res.text
        import sqlite3

        with sqlite3.connect(proc.data_dir / "data.db") as db:
            token_key, password_hash = db.execute(
                'SELECT "tokenKey", "password" FROM "users" WHERE "email" = ?', ("sub@example.com",)
            ).fetchone()
        assert CANARY.book.knows(token_key) and CANARY.book.knows(
            password_hash
        )  # read after the answer
        with (tmp_path / "server.log").open("a") as log:  # as if the server had logged it
            log.write(f"debug: user row {token_key}\n")
    finally:
        proc.stop()
    found = [(f.kind, f.where) for f in CANARY.take()]
    assert found == [(TOKEN_KEY, "server log")]
