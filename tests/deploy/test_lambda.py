"""roost.lambda_handler: the REST API served through API Gateway v2 and ALB events, in process,
on real PostgreSQL, with realtime refused and background jobs left off."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.app import Roost
from roost.config import Config
from roost.lambda_handler import LambdaConfigError, LambdaHandler, lambda_config
from roost.testing.databases import PG_URL, pg_available
from tests.conftest import skip_or_fail

EMAIL, PASSWORD = "ops@example.com", "lambda-pass-123"


def api_gateway_v2(method: str, path: str, body: Any = None, token: str = "", query: str = "") -> dict[str, Any]:
    headers = {"host": "abc123.execute-api.eu-west-1.amazonaws.com", "content-type": "application/json",
               "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https", "x-forwarded-port": "443"}
    if token:
        headers["authorization"] = token
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "isBase64Encoded": False, "body": json.dumps(body) if body is not None else None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": headers["host"], "domainPrefix": "abc123",
            "requestId": secrets.token_hex(8), "routeKey": "$default", "stage": "$default", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "lambda-test"},
        },
    }


def alb(method: str, path: str, body: Any = None, token: str = "", query: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"host": "roost-alb.example.com", "content-type": "application/json", "x-forwarded-for": "198.51.100.7",
               "x-forwarded-proto": "https", "x-forwarded-port": "443"}
    if token:
        headers["authorization"] = token
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/roost/0"}},
        "httpMethod": method, "path": path, "queryStringParameters": query or {}, "headers": headers,
        "body": json.dumps(body) if body is not None else "", "isBase64Encoded": False,
    }


def call(handler: LambdaHandler, event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, None)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return int(response["statusCode"]), json.loads(body) if body else None


@pytest.fixture
def schema() -> Iterator[str]:
    import asyncpg

    reason = asyncio.run(pg_available(PG_URL))
    if reason:
        skip_or_fail(reason)
    name = "lambda_" + secrets.token_hex(5)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE SCHEMA "{name}"'))
    yield name
    asyncio.run(execute(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.fixture
def make_handler(schema: str, tmp_path: Path) -> Iterator[Any]:
    try:
        import mangum  # noqa: F401
    except ImportError:
        skip_or_fail("mangum is not installed (pip install 'roost[lambda]')")
    env = dict(os.environ, ROOST_DB_URL=PG_URL, ROOST_DB_SCHEMA=schema)
    roost = Path(sys.executable).parent / "roost"
    subprocess.run([str(roost), "superuser", "upsert", EMAIL, PASSWORD, "--dir", str(tmp_path / "cli")],
                   env=env, check=True, capture_output=True, timeout=120)
    made: list[LambdaHandler] = []

    def make() -> LambdaHandler:
        config = Config(db_url=PG_URL, db_schema=schema, data_dir=tmp_path / f"c{len(made)}")
        made.append(LambdaHandler(Roost(lambda_config(config))))
        return made[-1]

    yield make
    for handler in made:
        handler.close()


def test_crud_through_api_gateway_v2_and_alb_events(make_handler: Any) -> None:
    handler = make_handler()
    status, auth = call(handler, api_gateway_v2("POST", "/api/collections/_superusers/auth-with-password",
                                                {"identity": EMAIL, "password": PASSWORD}))
    assert status == 200, auth
    token = auth["token"]
    status, body = call(handler, alb("POST", "/api/collections", {
        "name": "notes", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "title", "type": "text", "required": True}]}, token))
    assert status == 200, body
    status, created = call(handler, api_gateway_v2("POST", "/api/collections/notes/records", {"title": "first"}))
    assert status == 200 and created["title"] == "first", created
    status, page = call(handler, alb("GET", "/api/collections/notes/records", query={"filter": "title='first'"}))
    assert status == 200 and [i["id"] for i in page["items"]] == [created["id"]], page
    status, updated = call(handler, api_gateway_v2("PATCH", f"/api/collections/notes/records/{created['id']}",
                                                   {"title": "second"}))
    assert status == 200 and updated["title"] == "second", updated
    status, bad = call(handler, alb("POST", "/api/collections/notes/records", {"title": ""}))
    assert status == 400 and bad["data"]["title"]["code"] == "validation_required", bad
    status, _ = call(handler, alb("DELETE", f"/api/collections/notes/records/{created['id']}"))
    assert status == 204
    status, missing = call(handler, api_gateway_v2("GET", f"/api/collections/notes/records/{created['id']}"))
    assert status == 404 and set(missing) == {"status", "message", "data"}
    # request logs are written before each invocation returns, not by a background job
    status, logs = call(handler, api_gateway_v2("GET", "/api/logs", token=token, query="perPage=200"))
    assert status == 200
    assert any(item["data"].get("url", "").startswith("/api/collections/notes/records") for item in logs["items"]), logs


def test_realtime_is_refused_in_the_error_shape_and_no_background_job_runs(make_handler: Any) -> None:
    handler = make_handler()
    for event in (api_gateway_v2("GET", "/api/realtime"), alb("POST", "/api/realtime", {"clientId": "x"})):
        status, body = call(handler, event)
        assert status == 501
        assert set(body) == {"status", "message", "data"} and body["status"] == 501
        assert "not available on AWS Lambda" in body["message"]
    status, _ = call(handler, alb("GET", "/api/health"))
    assert status == 200
    assert handler.server.asgi.started
    assert handler.server.app.jobs.running() == []


def test_a_warm_container_sees_a_collection_created_through_another(make_handler: Any) -> None:
    first, second = make_handler(), make_handler()
    assert call(second, alb("GET", "/api/health"))[0] == 200  # warm, collections cached
    _, auth = call(first, api_gateway_v2("POST", "/api/collections/_superusers/auth-with-password",
                                         {"identity": EMAIL, "password": PASSWORD}))
    status, body = call(first, alb("POST", "/api/collections", {
        "name": "later", "createRule": "", "fields": [{"name": "n", "type": "number"}]}, auth["token"]))
    assert status == 200, body
    status, created = call(second, api_gateway_v2("POST", "/api/collections/later/records", {"n": 7}))
    assert status == 200 and created["n"] == 7, created


def test_embedded_sqlite_is_refused_at_the_cold_start(tmp_path: Path) -> None:
    with pytest.raises(LambdaConfigError, match="ROOST_DB_URL"):
        lambda_config(Config(data_dir=tmp_path))
