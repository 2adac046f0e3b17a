"""S18 (first part): secrets a client sends never come back in a response or a server log line.

Unique canaries go through the auth flows of a live ``roost serve --dev`` (the most verbose
mode); afterwards its whole log, every response body of the run and every request log row
(``auxiliary.db``) are scanned for them.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import httpx

from tests.reliability.procs import RoostProcess


def _canary(kind: str) -> str:
    return f"cnry{kind}{secrets.token_hex(8)}"


def test_canaries_never_reach_a_response_or_the_log(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path, extra=("--dev",))
    proc.start()
    canaries = {k: _canary(k) for k in ("pw", "newpw", "wrongpw", "bearer", "cookie", "query", "otp", "confirm")}
    bodies: list[str] = []
    try:
        with httpx.Client(base_url=proc.base_url, timeout=15) as http:

            def call(method: str, url: str, **kw: object) -> httpx.Response:
                res = http.request(method, url, **kw)  # type: ignore[arg-type]
                bodies.append(res.text + "\n" + "\n".join(f"{k}: {v}" for k, v in res.headers.items()))
                return res

            su = {"Authorization": proc.superuser_token()}
            assert call("PATCH", "/api/collections/users", headers=su, json={"otp": {"enabled": True}}).status_code == 200
            signup = {"email": "c@example.com", "password": canaries["pw"], "passwordConfirm": canaries["pw"]}
            user = call("POST", "/api/collections/users/records", json=signup).json()
            login = {"identity": "c@example.com", "password": canaries["pw"]}
            token = call("POST", "/api/collections/users/auth-with-password", json=login).json()["token"]
            call("POST", "/api/collections/users/auth-with-password", json={**login, "password": canaries["wrongpw"]})
            call("POST", "/api/collections/users/auth-refresh", headers={"Authorization": canaries["bearer"]})
            call("GET", "/api/collections/users/records", headers={"Cookie": f"__Host-roost_session={canaries['cookie']}"})
            call("GET", f"/api/collections/users/records?token={canaries['query']}")
            otp = call("POST", "/api/collections/users/request-otp", json={"email": "c@example.com"}).json()
            call("POST", "/api/collections/users/auth-with-otp", json={"otpId": otp.get("otpId", ""), "password": canaries["otp"]})
            call("POST", "/api/collections/users/request-password-reset", json={"email": "c@example.com"})
            call("POST", "/api/collections/users/confirm-password-reset",
                 json={"token": canaries["confirm"], "password": canaries["newpw"], "passwordConfirm": canaries["newpw"]})  # fmt: skip
            change = {"oldPassword": canaries["pw"], "password": canaries["newpw"], "passwordConfirm": canaries["newpw"]}
            res = call("PATCH", f"/api/collections/users/records/{user['id']}", headers={"Authorization": token}, json=change)
            assert res.status_code == 200, res.text
            assert call("GET", "/api/logs?perPage=500", headers=su).status_code == 200
    finally:
        proc.stop()
    with sqlite3.connect(next(tmp_path.rglob("auxiliary.db"))) as aux:  # the request logs, all of them
        bodies.extend(f"{message}\n{data}" for message, data in aux.execute("SELECT message, data FROM _logs"))
    assert any("/api/collections/users/records?token=***" in body for body in bodies)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "serving" in log  # the log is the server's own output
    leaks = {kind: where for kind, value in canaries.items() for where, text in (("log", log), ("responses", "\n".join(bodies))) if value in text}
    assert not leaks, f"secrets leaked: {leaks}"
