"""A server loads the libraries of GraphQL, passkeys, OAuth2, webhooks, SMTP, thumbnails and the
text log format only when a request needs them (about 25 MiB per process otherwise, and
``roost serve`` runs one process per core); the feature then works as before.

Each check runs in a fresh interpreter that drives the ASGI app directly (no HTTP client, which
would load httpx itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import asyncio, json, sys

from roost.app import Roost
from roost.config import Config

HEAVY = ("graphql", "webauthn", "httpx", "authlib", "joserfc", "PIL", "aiosmtplib", "structlog")


def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))


async def call(asgi, method, path, body=b"", headers=()):
    answer = {}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body" and answer.get("status", 200) >= 400:
            print(path, message.get("body", b"")[:500], file=sys.stderr)

    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"test"), *headers], "client": ("127.0.0.1", 1), "server": ("test", 80),
        "scheme": "http", "http_version": "1.1", "root_path": "",
    }
    await asgi(scope, receive, send)
    return answer["status"]


async def main():
    asgi = Roost(Config(data_dir=sys.argv[1])).asgi
    served = [
        await call(asgi, "GET", "/api/health"),
        await call(asgi, "GET", "/api/collections/users/records"),
        await call(asgi, "GET", "/api/collections/users/auth-methods"),
        await call(asgi, "POST", "/api/collections/users/records",
                   b'{"email":"a@example.com","password":"secret-123456","passwordConfirm":"secret-123456"}',
                   [(b"content-type", b"application/json")]),
    ]
    before = loaded()
    graphql = await call(asgi, "POST", "/api/graphql", b'{"query":"{ __typename }"}',
                         [(b"content-type", b"application/json")])
    print(json.dumps({"served": served, "before": before, "graphql": graphql, "after": loaded()}))


asyncio.run(main())
"""


def test_a_server_loads_optional_libraries_only_when_a_request_needs_them(tmp_path: Path) -> None:
    # a clean environment: no ROOST_* setting of the test session reaches the app
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ROOST_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["served"] == [200, 200, 200, 200], result
    assert result["before"] == [], result
    # the first GraphQL request loads graphql-core and answers as it always did
    assert result["graphql"] == 200, result
    assert result["after"] == ["graphql"], result
