"""The HTTP edge: headers, CORS, body limit, unknown routes, internal errors and write concurrency."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api


async def test_security_headers_and_cors(api: Api) -> None:
    res = await api.call("GET", "/api/health", headers={"Origin": "http://app.example"})
    assert res.status_code == 200
    assert res.json() == {"message": "API is healthy.", "code": 200, "data": {}}
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["x-frame-options"] == "SAMEORIGIN"
    assert res.headers["cross-origin-opener-policy"] == "same-origin"
    assert res.headers["access-control-allow-origin"] == "*"
    assert res.headers["x-request-id"]
    pre = await api.call("OPTIONS", "/api/collections/users/records", headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    })  # fmt: skip
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-headers"] == "content-type,authorization"
    assert "PATCH" in pre.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/api/nope", "File not found."),
        ("POST", "/api/nope", "The requested resource wasn't found."),
        ("PUT", "/api/health", "The requested resource wasn't found."),
    ],
)
async def test_unknown_routes_are_json_404(api: Api, method: str, path: str, message: str) -> None:
    res = await api.call(method, path)
    assert res.status_code == 404
    assert res.json() == {"data": {}, "message": message, "status": 404}


async def test_body_limit(api: Api) -> None:
    api.app.config.body_limit = 1024
    api.client._transport.app.body_limit = 1024  # type: ignore[attr-defined]
    res = await api.call("POST", "/api/collections/users/records", content=b"{" + b" " * 4096 + b"}",
                         headers={"content-type": "application/json"})  # fmt: skip
    assert res.status_code == 413
    assert res.json()["status"] == 413


async def test_database_failure_is_a_generic_500_with_no_trace(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    await api.su("POST", "/api/collections", json={"name": "t", "listRule": "", "fields": [{"name": "x", "type": "text"}]})
    async with api.app.db.transaction() as conn:  # break the table behind Roost's back
        await conn.execute_ddl('DROP TABLE "t"')
    with caplog.at_level(logging.ERROR, logger="roost.http"):
        res = await api.call("GET", "/api/collections/t/records")
    assert res.status_code == 500
    assert res.json() == {"data": {}, "message": "Something went wrong while processing your request.", "status": 500}
    assert "Traceback" not in res.text and "SELECT" not in res.text
    assert any("request id" in r.getMessage() for r in caplog.records)


async def test_concurrent_writes_never_fail(api: Api) -> None:
    await api.su("POST", "/api/collections", json={
        "name": "hits", "createRule": "", "listRule": "", "fields": [{"name": "n", "type": "number"}],
    })  # fmt: skip
    results = await asyncio.gather(*(api.call("POST", "/api/collections/hits/records", json={"n": i}) for i in range(60)))
    assert [r.status_code for r in results] == [200] * 60
    listed = await api.call("GET", "/api/collections/hits/records", params={"perPage": 1})
    assert listed.json()["totalItems"] == 60


@pytest.mark.parametrize(("setting", "expected"), [("", None), ("node-7", "node-7"), ("auto", "<host>:<pid>")])
async def test_the_instance_header_is_opt_in(tmp_path: Path, setting: str, expected: str | None) -> None:
    from roost.apis import build_asgi
    from roost.config import Config
    from roost.core.app import App

    app = App(Config(data_dir=tmp_path, instance_id=setting))
    await app.bootstrap()
    transport = httpx.ASGITransport(app=build_asgi(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
        ok = await client.get("/api/health")
        missing = await client.get("/api/nope")
    await app.close()
    if expected == "<host>:<pid>":
        expected = f"{socket.gethostname()}:{os.getpid()}"
    assert ok.headers.get("x-roost-instance") == expected
    assert missing.headers.get("x-roost-instance") == expected


async def test_liveness_and_readiness_routes(api: Api) -> None:
    live = await api.call("GET", "/api/health/live")
    assert live.status_code == 200 and live.json() == {"message": "API is alive.", "code": 200, "data": {}}
    ready = await api.call("GET", "/api/health", token=api.su_token)
    assert ready.status_code == 200 and "realIP" in ready.json()["data"]
    assert (await api.call("HEAD", "/api/health/live")).status_code == 200
