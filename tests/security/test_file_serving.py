"""S13: file serving. Paths never leave the record's folder, stored names are the server's,
active content is never rendered inline, and protected files need a token of a caller who
passes the view rule."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.reliability.procs import RoostProcess

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<html><script>alert(1)</script></html>"
PW = "files12345"


def _raw_status(port: int, target: bytes) -> int:
    """The status of a GET whose target is sent byte for byte (no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return int(sock.recv(64).split()[1])


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostProcess]:
    """A Roost whose files are on its disk, or in an S3 bucket (moto)."""
    proc = RoostProcess(tmp_path_factory.mktemp("files"))
    proc.start()
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_server")
        with httpx.Client(base_url=proc.base_url, headers={"Authorization": proc.superuser_token()}) as http:
            assert http.patch("/api/settings", json={"s3": s3.settings(s3.new_bucket())}).status_code == 200
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def data(server: RoostProcess) -> tuple[dict[str, Any], dict[str, Any], str]:
    su = {"Authorization": server.superuser_token()}
    with httpx.Client(base_url=server.base_url, timeout=15, headers=su) as http:
        public = {"name": "pub", "listRule": "", "viewRule": "", "createRule": "",
                  "fields": [{"name": "f", "type": "file", "maxSelect": 5, "maxSize": 10000}]}  # fmt: skip
        private = {"name": "priv", "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
                   "createRule": "", "fields": [{"name": "f", "type": "file", "maxSelect": 1, "protected": True},
                                                {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}]}  # fmt: skip
        for body in (public, private):
            assert http.post("/api/collections", json=body).status_code == 200
        files = [("f", ("../../etc/passwd", b"x")), ("f", ("pic.svg", SVG)), ("f", ("page.html", HTML)), ("f", ("fake.png", HTML))]
        rec = http.post("/api/collections/pub/records", files=files).json()
        owner = http.post("/api/collections/users/records", json={"email": "f@example.com", "password": PW, "passwordConfirm": PW}).json()
        http.post("/api/collections/users/records", json={"email": "g@example.com", "password": PW, "passwordConfirm": PW})
        secret = http.post("/api/collections/priv/records", data={"owner": owner["id"]}, files=[("f", ("s.txt", b"top secret"))]).json()
    return rec, secret, owner["id"]


def test_files_stay_in_their_folder_and_active_content_is_not_inline(server: RoostProcess, data: Any) -> None:
    rec = data[0]
    names = rec["f"]
    assert all("/" not in n and ".." not in n for n in names)  # stored names are generated
    base = f"/api/files/pub/{rec['id']}/"
    vectors = [
        "../../data.db", "..%2f..%2fdata.db", "%2e%2e/%2e%2e/data.db", "%252e%252e%252fdata.db", "..\\..\\data.db",
        "..%5c..%5cdata.db", "%2fetc%2fpasswd", "/etc/passwd", f"{names[0]}%00.txt", "\u2025/data.db",
        f"..%2f{rec['id']}%2f{names[0]}", "%c0%ae%c0%ae/data.db",
    ]  # fmt: skip
    for vector in vectors:
        status = _raw_status(server.port, (base + vector).encode())
        assert status in (400, 404), (vector, status)
    assert _raw_status(server.port, f"/api/files/pub/..%2f..%2f/{names[0]}".encode()) in (400, 404)
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        for name in names[1:]:
            res = http.get(base + name)
            assert res.status_code == 200
            assert res.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in res.headers["content-security-policy"]
            if name.endswith((".svg", ".html")):
                assert res.headers["content-disposition"].startswith("attachment"), name


def test_protected_files_need_a_token_of_someone_who_may_view_the_record(server: RoostProcess, data: Any) -> None:
    secret = data[1]
    url = f"/api/files/priv/{secret['id']}/{secret['f']}"
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        assert http.get(url).status_code == 404

        def file_token(email: str) -> str:
            login = http.post("/api/collections/users/auth-with-password", json={"identity": email, "password": PW}).json()
            res = http.post("/api/files/token", headers={"Authorization": login["token"]})
            return str(res.json()["token"])

        owner_token = file_token("f@example.com")
        assert http.get(url, params={"token": owner_token}).status_code == 200
        assert http.get(url, params={"token": file_token("g@example.com")}).status_code == 404
        claims = jwt.decode(owner_token, options={"verify_signature": False})
        assert claims["exp"] - time.time() <= 300  # file tokens are short-lived
        forged = jwt.encode({**claims, "exp": int(time.time()) + 3600}, "not-the-key-but-long-enough-000000", algorithm="HS256")
        assert http.get(url, params={"token": forged}).status_code == 404
        assert http.get(url, params={"token": owner_token + "x"}).status_code == 404
