"""``roost serve`` flags PocketBase users type, their ROOST_* variables, and one-line errors for
bad values; ``superuser otp``; ``--encryptionEnv``; ``--https``; ``--origins``."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.config import Config
from tests.conftest import MYSQL_URL, PG_URL, skip_or_fail
from tests.e2e.servers import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, free_port
from tests.roost_process import roost_process

ROOST = str(Path(sys.executable).parent / "roost")
KEY = "0123456789abcdef0123456789abcdef"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROOST, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_line_error(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert out.returncode != 0, out
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out.stderr
    for word in words:
        assert word in errors[0], errors[0]


def test_version_flag() -> None:
    for flag in ("--version", "-v"):
        out = run(flag)
        assert out.returncode == 0 and out.stdout.strip() == run("version").stdout.strip()


def test_help_names_the_variable_of_every_setting() -> None:
    text = " ".join(run("serve", "--help").stdout.split())
    for field in Config.model_fields:
        if field == "hub_url":  # set by the serving process for its workers, not by users
            continue
        assert f"ROOST_{field.upper()}" in text, field
    for flag in ("--origins", "--https", "--tlsCert", "--tlsKey", "--encryptionEnv", "--queryTimeout", "--publicDir"):
        assert flag in text, flag


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--db-url", "foo://user:pw@bar"], {}, ["--db-url", "foo://"]),
        (["--http", "127.0.0.1:99999"], {}, ["--http", "65535"]),
        (["--http", "nonsense"], {}, ["--http", "HOST:PORT"]),
        (["--https", "127.0.0.1:0"], {}, ["--https"]),
        (["--workers", "0"], {}, ["workers", "at least 1"]),
        (["--queryTimeout", "-1"], {}, ["query_timeout", "0 (no limit) or more"]),
        (["--body-timeout", "-5"], {}, ["body_timeout"]),
        (["--header-timeout", "0"], {}, ["header_timeout", "above 0"]),
        ([], {"ROOST_WORKERS": "0"}, ["ROOST_WORKERS"]),
        ([], {"ROOST_QUERY_TIMEOUT": "soon"}, ["ROOST_QUERY_TIMEOUT"]),
        ([], {"ROOST_HTTP": "127.0.0.1:70000"}, ["--http"]),
        (["--https", "127.0.0.1:8443"], {}, ["--tlsCert", "--tlsKey"]),
        (["--encryptionEnv", "ROOST_TEST_UNSET_KEY"], {}, ["ROOST_TEST_UNSET_KEY", "not set"]),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path: Path, args: list[str], env: dict[str, str], words: list[str]) -> None:
    out = run("serve", "--dir", str(tmp_path / "d"), *args, env=env)
    assert_one_line_error(out, *words)
    assert "pw@" not in out.stderr  # a database URL's password is never echoed


def test_an_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(run("serve", "--dir", str(blocker / "data")), "not writable")
    assert_one_line_error(run("superuser", "otp", "a@example.com", "--dir", str(blocker / "data")), "not writable")


def test_sslmode_becomes_asyncpgs_ssl() -> None:
    url = Config(db_url="postgresql://u:p@h:5432/db?sslmode=verify-full&application_name=x").database_url
    assert url == "postgresql+asyncpg://u:p@h:5432/db?ssl=verify-full&application_name=x"
    assert Config(db_url="mysql://root@h/db?sslmode=x").database_url == "mysql+asyncmy://root@h/db?sslmode=x"


def test_sslmode_in_a_postgresql_url_connects(tmp_path: Path) -> None:
    from roost.core.db.facade import Database

    async def select_one(mode: str) -> object:
        db = Database(Config(db_url=f"{PG_URL}?sslmode={mode}").database_url)
        try:
            return await db.fetch_value("SELECT 1")
        finally:
            await db.close()

    try:
        assert asyncio.run(select_one("disable")) == 1
    except Exception as exc:  # the server is not here
        skip_or_fail(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    assert asyncio.run(select_one("prefer")) == 1
    # the test server speaks no TLS: "require" must say so in one line, not a driver TypeError
    out = run("superuser", "upsert", "a@example.com", "password123", "--db-url", f"{PG_URL}?sslmode=require")
    if out.returncode != 0:
        assert_one_line_error(out, "Cannot open the database")
        assert "sslmode" not in out.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with roost_process(tmp_path, "--origins", "https://a.example, https://c.example/") as live:
        yield live.base_url


@pytest.mark.parametrize(("origin", "allowed"), [("https://a.example", True), ("https://c.example", True), ("https://b.example", False)])
def test_origins_is_the_cors_allow_list(server: str, origin: str, allowed: bool) -> None:
    pre = httpx.options(f"{server}/api/collections/users/records", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})  # fmt: skip
    simple = httpx.get(f"{server}/api/health", headers={"Origin": origin})
    assert pre.status_code == 204 and simple.status_code == 200
    if allowed:
        assert pre.headers["access-control-allow-origin"] == origin
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert pre.headers["access-control-allow-headers"] == "content-type"
        assert simple.headers["access-control-allow-origin"] == origin
    else:
        for res in (pre, simple):
            assert not any(name.startswith("access-control-") for name in res.headers), res.headers
    assert "Origin" in simple.headers.get_list("vary")


def test_origins_from_the_environment(tmp_path: Path) -> None:
    with roost_process(tmp_path, env={"ROOST_ORIGINS": "https://env.example"}) as live:
        ok = httpx.get(f"{live.base_url}/api/health", headers={"Origin": "https://env.example"})
        other = httpx.get(f"{live.base_url}/api/health", headers={"Origin": "https://a.example"})
    assert ok.headers["access-control-allow-origin"] == "https://env.example"
    assert "access-control-allow-origin" not in other.headers


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


def test_https_serves_tls_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    args = ["serve", "--dir", str(tmp_path / "d"), "--https", f"127.0.0.1:{port}", "--tlsCert", str(cert), "--tlsKey", str(key)]
    with (tmp_path / "log").open("wb") as log:
        proc = subprocess.Popen([ROOST, *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        res = _wait_for(f"https://127.0.0.1:{port}/api/health", trusted, proc, tmp_path / "log")
        assert res.json() == {"message": "API is healthy.", "code": 200, "data": {}}
        assert res.http_version == "HTTP/1.1" and res.url.scheme == "https"
        with pytest.raises(httpx.ConnectError):  # the certificate is what the server presents
            httpx.get(f"https://127.0.0.1:{port}/api/health", timeout=5)
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not spoken on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert "serving https://" in (tmp_path / "log").read_text()


def test_unusable_tls_files_are_one_line(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    base = ["serve", "--dir", str(tmp_path / "d"), "--https", "127.0.0.1:8443"]
    assert_one_line_error(run(*base, "--tlsCert", str(tmp_path / "none.pem"), "--tlsKey", str(key)), "--tlsCert", "cannot read")
    assert_one_line_error(run(*base, "--tlsCert", str(key), "--tlsKey", str(cert)), "--tlsCert/--tlsKey")


def _wait_for(url: str, verify: ssl.SSLContext, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return httpx.get(url, verify=verify, timeout=2).raise_for_status()
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"no HTTPS answer: {log.read_text()}")


def test_superuser_otp_signs_a_superuser_in(tmp_path: Path) -> None:
    with roost_process(tmp_path) as live:
        data = str(live.data_dir)
        refused = run("superuser", "otp", SUPERUSER_EMAIL, "--dir", data)
        assert_one_line_error(refused, "OTP", "not enabled")
        token = httpx.post(f"{live.base_url}/api/collections/_superusers/auth-with-password",
                           json={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}).json()["token"]  # fmt: skip
        enabled = httpx.patch(f"{live.base_url}/api/collections/_superusers", json={"otp": {"enabled": True}},
                              headers={"Authorization": token})  # fmt: skip
        assert enabled.status_code == 200, enabled.text
        assert_one_line_error(run("superuser", "otp", "nobody@example.com", "--dir", data), "nobody@example.com")
        out = run("superuser", "otp", SUPERUSER_EMAIL, "--dir", data)
        assert out.returncode == 0, out.stderr
        lines = dict(line.strip().split(":", 1) for line in out.stdout.splitlines()[1:])
        otp_id, password = lines["otpId"].strip(), lines["password"].strip()
        assert len(password) == 8 and password.isdigit()
        signed = httpx.post(f"{live.base_url}/api/collections/_superusers/auth-with-otp",
                            json={"otpId": otp_id, "password": password})  # fmt: skip
        assert signed.status_code == 200, signed.text
        assert signed.json()["record"]["email"] == SUPERUSER_EMAIL
        again = httpx.post(f"{live.base_url}/api/collections/_superusers/auth-with-otp",
                           json={"otpId": otp_id, "password": password})  # fmt: skip
        assert again.status_code == 400  # one use only


def test_encryption_env_seals_settings_and_needs_the_key(tmp_path: Path) -> None:
    env = {"APP_KEY": KEY, "WRONG_KEY": "f" * 32}
    with roost_process(tmp_path, "--encryptionEnv", "APP_KEY", env=env) as live:
        data = live.data_dir
        token = httpx.post(f"{live.base_url}/api/collections/_superusers/auth-with-password",
                           json={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}).json()["token"]  # fmt: skip
        res = httpx.patch(f"{live.base_url}/api/settings", headers={"Authorization": token},
                          json={"smtp": {"password": "hunter2-canary"}, "s3": {"secret": "s3-canary"}})  # fmt: skip
        assert res.status_code == 200, res.text
    with sqlite3.connect(data / "data.db") as db:
        stored = db.execute("SELECT value FROM _params WHERE id = 'settings'").fetchone()[0]
    assert stored.startswith("enc:v1:")  # the whole document, not only its secrets
    assert "hunter2-canary" not in stored and "s3-canary" not in stored and "appName" not in stored
    assert_one_line_error(run("superuser", "ips", "--dir", str(data)), "encrypted", "--encryptionEnv")
    assert_one_line_error(run("superuser", "ips", "--dir", str(data), "--encryptionEnv", "WRONG_KEY", env=env), "cannot be decrypted")
    assert_one_line_error(run("serve", "--dir", str(data), "--encryptionEnv", "WRONG_KEY", env=env), "cannot be decrypted")
    assert_one_line_error(run("serve", "--dir", str(data)), "encrypted")
    ok = run("superuser", "ips", "--dir", str(data), "--encryptionEnv", "APP_KEY", env=env)
    assert ok.returncode == 0, ok.stderr
    ok = run("superuser", "ips", "--dir", str(data), env={"ROOST_ENCRYPTION_KEY": KEY})
    assert ok.returncode == 0, ok.stderr


def test_mariadb_start_up_prints_no_already_exists_warning(tmp_path: Path) -> None:
    from roost.testing.mysql import create_database, database_url, drop_database, mysql_available

    reason = asyncio.run(mysql_available(MYSQL_URL))
    if reason:
        skip_or_fail(reason)
    name = asyncio.run(create_database(MYSQL_URL, "flags_"))
    url = database_url(MYSQL_URL, name)
    try:
        outputs = []
        for _ in range(2):  # the first start creates the tables, the second meets them
            with roost_process(tmp_path, "--db-url", url) as live:
                assert httpx.get(f"{live.base_url}/api/health").status_code == 200
            outputs.append((tmp_path / "server.log").read_text(errors="replace"))
        upsert = run("superuser", "upsert", "a@example.com", "password123", "--db-url", url)
        assert upsert.returncode == 0, upsert.stderr
        for text in [*outputs, upsert.stderr]:
            assert "already exists" not in text.lower(), text
    finally:
        asyncio.run(drop_database(MYSQL_URL, name))
