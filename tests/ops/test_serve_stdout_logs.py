"""``roost serve``'s stdout: one JSON object per line with the request's ids, route and timing,
no secret in any line, and no line forged by CR/LF in what a client sends."""

from __future__ import annotations

import json
import secrets
import socket
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.conftest import skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.reliability.procs import RoostProcess

#: a hooks file whose route logs a value taken from the query string, as a careless hook might
ECHO_HOOK = """
import logging

from roost.hooks import RouteEvent, app

log = logging.getLogger("roost_hooks.echo")


@app.route("GET", "/api/echo")
async def echo(e: RouteEvent) -> dict[str, str]:
    log.warning("echo %s", e.info.query.get("q", ""))
    return {"ok": "yes"}
"""
FORGED = '{"level":"error","logger":"forged","message":"forged"}'


def _canary(kind: str) -> str:
    return f"cnry{kind}{secrets.token_hex(8)}"


def _lines(proc: RoostProcess) -> list[dict[str, Any]]:
    text = (proc.root / "server.log").read_text()
    lines = [line for line in text.split("\n") if line]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError as exc:
            raise AssertionError(f"not a JSON line: {line!r}") from exc
    return parsed


def _raw_get(port: int, target: str, headers: dict[str, bytes]) -> bytes:
    """A request written byte for byte (an HTTP client would refuse or encode these values)."""
    head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
    head += b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_every_line_is_json_with_ids_and_no_secret_or_forged_line(tmp_path: Path) -> None:
    hooks = tmp_path / "roost_hooks"
    hooks.mkdir()
    (hooks / "echo.py").write_text(textwrap.dedent(ECHO_HOOK))
    proc = RoostProcess(tmp_path)
    proc.start()
    canaries = {k: _canary(k) for k in ("pw", "wrongpw", "bearer", "cookie", "query", "otp")}
    ids: dict[str, str] = {}
    try:
        with httpx.Client(base_url=proc.base_url, timeout=15) as http:

            def call(name: str, method: str, url: str, **kw: Any) -> httpx.Response:
                ids[name] = f"t-{name}-{secrets.token_hex(4)}"
                headers = {**kw.pop("headers", {}), "X-Request-Id": ids[name]}
                res = http.request(method, url, headers=headers, **kw)
                assert res.headers["x-request-id"] == ids[name]
                return res

            su = {"Authorization": proc.superuser_token()}
            assert call("otp_on", "PATCH", "/api/collections/users", headers=su, json={"otp": {"enabled": True}}).status_code == 200
            signup = {"email": "c@example.com", "password": canaries["pw"], "passwordConfirm": canaries["pw"]}
            user = call("signup", "POST", "/api/collections/users/records", json=signup).json()
            login = {"identity": "c@example.com", "password": canaries["pw"]}
            token = call("login", "POST", "/api/collections/users/auth-with-password", json=login).json()["token"]
            call("wrong", "POST", "/api/collections/users/auth-with-password", json={**login, "password": canaries["wrongpw"]})
            assert call("authed", "GET", f"/api/collections/users/records/{user['id']}", headers={"Authorization": token}).status_code == 200
            call("bearer", "GET", "/api/collections/users/records", headers={"Authorization": f"Bearer {canaries['bearer']}"})
            call("cookie", "GET", "/api/collections/users/records", headers={"Cookie": f"__Host-roost_session={canaries['cookie']}"})
            call("query", "GET", f"/api/collections/users/records?token={canaries['query']}")
            otp = call("otp", "POST", "/api/collections/users/request-otp", json={"email": "c@example.com"}).json()
            call("otp_auth", "POST", "/api/collections/users/auth-with-otp", json={"otpId": otp.get("otpId", ""), "password": canaries["otp"]})
            call("crlf", "GET", f"/api/collections/{quote(f'x{chr(13)}{chr(10)}{FORGED}')}/records")
            assert call("echo", "GET", "/api/echo", params={"q": f"a\r\n{FORGED}\u2028b"}).status_code == 200
            unsafe = http.get("/api/health", headers={"X-Request-Id": "not a safe id"})
            assert unsafe.headers["x-request-id"] != "not a safe id"
        answer = _raw_get(proc.port, "/api/health", {"User-Agent": b"ua\xc2\x85" + FORGED.encode(), "X-Request-Id": b"t-raw"})
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        proc.stop()
    lines = _lines(proc)
    text = (tmp_path / "server.log").read_text()
    assert all({"timestamp", "level", "logger", "message"} <= line.keys() for line in lines)
    assert not [line for line in lines if line["logger"] == "forged"]
    requests = [line for line in lines if line["logger"] == "roost.request"]
    by_id = {rid: [line for line in requests if line["request_id"] == rid] for rid in [*ids.values(), "t-raw"]}
    assert all(len(found) == 1 for found in by_id.values()), {k: len(v) for k, v in by_id.items()}
    authed = by_id[ids["authed"]][0]
    assert authed["route"] == "/api/collections/{collection}/records/{id}"
    assert authed["status"] == 200 and authed["auth"] == "users" and authed["auth_id"] == user["id"]
    assert isinstance(authed["duration_ms"], float | int) and authed["method"] == "GET"
    assert by_id[ids["wrong"]][0]["status"] == 400 and by_id[ids["wrong"]][0]["auth_id"] == ""
    assert by_id[ids["query"]][0]["url"] == "/api/collections/users/records?token=***"
    # the server refuses control bytes in headers; the latin-1 reading of UTF-8 NEL still holds a C1 break
    assert by_id["t-raw"][0]["user_agent"] == "ua\xc2\x85" + FORGED
    assert "%0D%0A" in by_id[ids["crlf"]][0]["url"]
    echoed = [line for line in lines if line["logger"] == "roost_hooks.echo"]
    assert [line["message"] for line in echoed] == [f"echo a\r\n{FORGED}\u2028b"]
    assert echoed[0]["request_id"] == ids["echo"]  # a hook's line inside a request carries its id
    assert "\u2028" not in text and "\x85" not in text  # line breaks to str.splitlines, escaped
    leaks = [kind for kind, value in canaries.items() if value in text]
    assert not leaks, f"secrets in the log: {leaks}"
    assert token not in text


def test_dev_text_lines_with_sql_timings_and_no_parameter_values(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path, extra=("--dev",))
    proc.start()
    password = _canary("pw")
    try:
        res = httpx.post(f"{proc.base_url}/api/collections/users/auth-with-password",
                         json={"identity": f"{password}@example.com", "password": password},
                         headers={"X-Request-Id": "dev-login", "User-Agent": b"ua\x85z"}, timeout=15)  # fmt: skip
        assert res.status_code == 400
    finally:
        proc.stop()
    text = (tmp_path / "server.log").read_text()
    lines = text.splitlines()
    sql = [line for line in lines if "[roost.sql]" in line]
    lookup = [line for line in sql if '"email" = :' in line and "request_id=dev-login" in line]
    assert lookup, "\n".join(sql[-10:])
    assert "duration_ms=" in lookup[0] and "params=['str']" in lookup[0]
    assert not text.lstrip().startswith("{")  # --dev prints text, not JSON
    assert password not in text
    request = [line for line in lines if "[roost.request]" in line and "request_id=dev-login" in line]
    assert len(request) == 1 and "status=400" in request[0]
    assert "user_agent=ua\\x85z" in request[0]


def test_log_format_and_level_flags(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path, extra=("--dev", "--logFormat", "json", "--log-level", "warning"))
    proc.start()
    try:
        assert httpx.get(f"{proc.base_url}/api/health", timeout=15).status_code == 200
        assert httpx.get(f"{proc.base_url}/api/nope", timeout=15).status_code == 404
    finally:
        proc.stop()
    lines = _lines(proc)  # JSON even with --dev, and nothing below warning: no request or SQL line
    assert all(line["level"] in ("warning", "error", "critical") for line in lines), lines[:5]


def test_worker_processes_log_json_lines_too(tmp_path: Path) -> None:
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    proc = RoostProcess(tmp_path, extra=("--workers", "2", "--redis-url", REDIS_URL))
    proc.start()
    try:
        assert len(proc.worker_pids()) == 2  # the workers
        with httpx.Client(base_url=proc.base_url, timeout=15) as http:
            for n in range(20):
                assert http.get("/api/health", headers={"X-Request-Id": f"w-{n}"}).status_code == 200
    finally:
        proc.stop()
    lines = _lines(proc)
    seen = sorted(line["request_id"] for line in lines if line["logger"] == "roost.request" and line["request_id"].startswith("w-"))
    assert seen == sorted(f"w-{n}" for n in range(20))
