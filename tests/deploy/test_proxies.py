"""deploy/proxies: the production nginx, Apache and Caddy configs, started live in front of a Roost.

Each config is rendered from the shipped file by replacing only its example values (domain,
ports, certificate paths, upstream, cache dir) and checked end to end through TLS with a
self-signed certificate: HTTP/2 by ALPN, HTTP -> HTTPS redirect, an SSE stream that receives a
record event, a WebSocket subscription, the real client IP through ``trustedProxy``, the body
limit, and caching of public files.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import skip_or_fail

from .tools import DEPLOY, REPO_ROOT

PROXIES = ["nginx", "apache", "caddy"]
EMAIL, PASSWORD = "proxy@example.com", "proxy-pass-123"
#: the client's own source address: any 127/8 address is this machine, and it differs from the
#: proxy's (127.0.0.1), so the address Roost logs shows which one it trusted
CLIENT_IP = "127.0.0.2"
APACHE_MODULES = ["mpm_event", "authz_core", "ssl", "socache_shmcb", "http2", "proxy", "proxy_http",
                  "proxy_wstunnel", "headers", "cache", "cache_disk", "rewrite"]


def _cluster_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("roost_deploy_cluster", REPO_ROOT / "deploy" / "local" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


cluster = _cluster_module()


@dataclass
class Live:
    proxy: str
    url: str
    http_url: str
    ca: Path
    roost_url: str
    token: str


def _self_signed(folder: Path) -> tuple[Path, Path]:
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
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _replace(text: str, pairs: dict[str, str]) -> str:
    for old, new in pairs.items():
        assert old in text, f"{old!r} is no longer in the shipped config"
        text = text.replace(old, new)
    return text


def _render(proxy: str, run: Path, port: int, http_port: int, upstream: str, cert: Path, key: Path) -> list[str]:
    """The command that runs ``proxy`` on the shipped config with only its example values replaced."""
    common = {"/etc/ssl/roost/fullchain.pem": str(cert), "/etc/ssl/roost/privkey.pem": str(key),
              "127.0.0.1:8090": upstream}
    binary = cluster.proxy_binary(proxy)
    if proxy == "nginx":
        site = _replace((DEPLOY / "proxies" / "nginx" / "roost.conf").read_text(), common | {
            "listen [::]:80;": "", "listen [::]:443 ssl http2;": "",
            "listen 80;": f"listen 127.0.0.1:{http_port};", "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
            "/var/cache/nginx/roost": str(run / "cache")})
        (run / "roost.conf").write_text(site)
        temp = "\n".join(f"    {kind}_temp_path {run}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # as root, workers would drop to nobody, who cannot enter pytest's private temp dir
        user = "user root;\n" if os.geteuid() == 0 else ""
        (run / "nginx.conf").write_text(
            f"daemon off;\n{user}worker_processes 1;\npid {run}/nginx.pid;\nerror_log {run}/error.log warn;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {run}/access.log;\n{temp}\n"
            f"    include {run}/roost.conf;\n}}\n")
        return [binary, "-p", str(run), "-c", str(run / "nginx.conf"), "-e", f"{run}/error.log"]
    if proxy == "apache":
        site = _replace((DEPLOY / "proxies" / "apache" / "roost.conf").read_text(), common | {
            "<VirtualHost *:80>": f"<VirtualHost *:{http_port}>", "<VirtualHost *:443>": f"<VirtualHost *:{port}>",
            "/var/cache/apache2/roost": str(run / "cache")})
        (run / "roost.conf").write_text(site)
        (run / "cache").mkdir(exist_ok=True)
        modules = "\n".join(f"LoadModule {m}_module {cluster.APACHE_MODULES}/mod_{m}.so" for m in APACHE_MODULES)
        (run / "apache.conf").write_text(
            f'ServerRoot "/etc/apache2"\nServerName 127.0.0.1\nListen 127.0.0.1:{http_port}\nListen 127.0.0.1:{port}\n'
            f"PidFile {run}/apache.pid\nDefaultRuntimeDir {run}\nErrorLog {run}/error.log\nLogLevel warn\n"
            f"Mutex file:{run} default\n{modules}\nSSLSessionCache shmcb:{run}/ssl_cache(512000)\n"
            f"Include {run}/roost.conf\n")
        return [binary, "-DFOREGROUND", "-f", str(run / "apache.conf")]
    site = _replace((DEPLOY / "proxies" / "caddy" / "Caddyfile").read_text(), {"127.0.0.1:8090": upstream,
        "\temail ops@example.com\n": f"\tadmin off\n\tdefault_bind 127.0.0.1\n\thttp_port {http_port}\n"
                                     f"\thttps_port {port}\n\tstorage file_system {run}/caddy\n",
        "roost.example.com {\n": f"https://127.0.0.1:{port} {{\n\ttls {cert} {key}\n"})
    (run / "Caddyfile").write_text(site)
    return [binary, "run", "--config", str(run / "Caddyfile"), "--adapter", "caddyfile"]


@pytest.fixture(scope="module")
def roost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One Roost on SQLite with a superuser, a public-file collection and trustedProxy on X-Real-IP."""
    folder = tmp_path_factory.mktemp("roost")
    roost_cmd = cluster.roost_command()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    subprocess.run([*roost_cmd, "superuser", "upsert", EMAIL, PASSWORD, "--dir", str(folder / "data")],
                   env=env, check=True, capture_output=True, timeout=120)
    port = cluster.free_port()
    with (folder / "roost.log").open("ab") as log:
        process = subprocess.Popen([*roost_cmd, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(folder / "data")],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        assert cluster.wait_healthy(url, process, 60), (folder / "roost.log").read_text()[-2000:]
        token = httpx.post(f"{url}/api/collections/_superusers/auth-with-password",
                           json={"identity": EMAIL, "password": PASSWORD}, timeout=10).json()["token"]
        auth = {"Authorization": token}
        assert httpx.patch(f"{url}/api/settings", headers=auth, timeout=10,
                           json={"trustedProxy": {"headers": ["X-Real-IP"], "useLeftmostIP": False}}).status_code == 200
        res = httpx.post(f"{url}/api/collections", headers=auth, timeout=10, json={
            "name": "docs", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "n", "type": "number"}, {"name": "file", "type": "file", "maxSelect": 1}]})
        assert res.status_code == 200, res.text
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module", params=PROXIES)
def live(request: pytest.FixtureRequest, roost: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    proxy = str(request.param)
    try:
        cluster.proxy_binary(proxy)
    except cluster.Unavailable as exc:
        skip_or_fail(str(exc))
    run = tmp_path_factory.mktemp(proxy)
    cert, key = _self_signed(run)
    port, http_port = cluster.free_port(), cluster.free_port()
    roost_url, token = roost
    command = _render(proxy, run, port, http_port, roost_url.removeprefix("http://"), cert, key)
    env = dict(os.environ, HOME=str(run), XDG_DATA_HOME=str(run), XDG_CONFIG_HOME=str(run))
    with (run / "stdout.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=run, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    live = Live(proxy, f"https://127.0.0.1:{port}", f"http://127.0.0.1:{http_port}", cert, roost_url, token)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{live.url}/api/health", verify=_tls(cert), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in run.glob("*.log"))
            pytest.fail(f"{proxy} did not start:\n{logs}")
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _tls(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def test_tls_negotiates_http2(live: Live) -> None:
    context = _tls(live.ca)
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    health = httpx.get(f"{live.url}/api/health", verify=context, timeout=5)
    assert health.headers["strict-transport-security"].startswith("max-age=")


def test_plain_http_redirects_to_https(live: Live) -> None:
    res = httpx.get(f"{live.http_url}/api/health?x=1", timeout=5)
    assert res.status_code in (301, 308), res.text
    assert res.headers["location"].startswith("https://") and res.headers["location"].endswith("/api/health?x=1")


def _sse_frames(url: str, ca: Path, subscribe: Any, count: int) -> list[dict[str, str]]:
    async def scenario() -> list[dict[str, str]]:
        frames: list[dict[str, str]] = []
        async with httpx.AsyncClient(verify=_tls(ca), timeout=10) as http, \
                http.stream("GET", f"{url}/api/realtime") as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            buffer = ""
            async for chunk in res.aiter_text():
                buffer += chunk
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(":", 1) for line in frame.splitlines() if ":" in line)
                    frames.append(fields)
                    if fields.get("event") == "PB_CONNECT":
                        await subscribe(http, fields["id"])
                if len(frames) >= count:
                    return frames
        return frames

    return asyncio.run(asyncio.wait_for(scenario(), 20))


def test_an_sse_stream_through_tls_receives_a_record_event(live: Live) -> None:
    async def subscribe(http: httpx.AsyncClient, client_id: str) -> None:
        res = await http.post(f"{live.url}/api/realtime", json={"clientId": client_id, "subscriptions": ["docs/*"]})
        assert res.status_code == 204, res.text
        res = await http.post(f"{live.url}/api/collections/docs/records", json={"n": 41})
        assert res.status_code == 200, res.text

    frames = _sse_frames(live.url, live.ca, subscribe, 2)
    assert frames[0]["event"] == "PB_CONNECT"
    event = json.loads(frames[1]["data"])
    assert event["action"] == "create" and event["record"]["n"] == 41


def test_a_websocket_subscription_passes_through_tls(live: Live) -> None:
    import websockets

    async def scenario() -> dict[str, Any]:
        ws_url = live.url.replace("https://", "wss://") + "/api/realtime/ws"
        async with websockets.connect(ws_url, ssl=_tls(live.ca), open_timeout=10) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connect"
            await ws.send(json.dumps({"type": "subscribe", "topics": ["docs/*"], "id": 1}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "ack", "id": 1}
            async with httpx.AsyncClient(verify=_tls(live.ca), timeout=10) as http:
                res = await http.post(f"{live.url}/api/collections/docs/records", json={"n": 42})
                assert res.status_code == 200, res.text
            while True:
                message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message.get("type") == "event":
                    return message

    message = asyncio.run(scenario())
    assert message["data"]["record"]["n"] == 42


def test_roost_sees_the_client_address_and_not_a_forged_header(live: Live) -> None:
    marker = f"ip-{live.proxy}"
    transport = httpx.HTTPTransport(local_address=CLIENT_IP, verify=_tls(live.ca))
    with httpx.Client(transport=transport, timeout=10) as http:
        res = http.get(f"{live.url}/api/health", params={"m": marker},
                       headers={"X-Real-IP": "203.0.113.66", "X-Forwarded-For": "203.0.113.66"})
        assert res.status_code == 200
    deadline = time.monotonic() + 10
    items: list[dict[str, Any]] = []
    while not items and time.monotonic() < deadline:
        res = httpx.get(f"{live.roost_url}/api/logs", headers={"Authorization": live.token}, timeout=10,
                        params={"filter": f"data.url ~ '{marker}'"})
        items = res.json().get("items", [])
        time.sleep(0.1)
    assert items, "the request was not logged"
    assert items[0]["data"]["remoteIP"] == "127.0.0.1"  # the proxy's connection
    assert items[0]["data"]["userIP"] == CLIENT_IP


def test_a_body_over_roosts_limit_is_refused_with_413(live: Live) -> None:
    body = b"x" * (32 * 1024 * 1024 + 1024)
    res = httpx.post(f"{live.url}/api/collections/docs/records", content=body, verify=_tls(live.ca), timeout=60,
                     headers={"Content-Type": "application/json"})
    assert res.status_code == 413
    if live.proxy != "apache":  # Apache answers with its own HTML page
        assert res.json()["status"] == 413 and set(res.json()) == {"status", "message", "data"}
    small = httpx.post(f"{live.url}/api/collections/docs/records", json={"n": 1}, verify=_tls(live.ca), timeout=10)
    assert small.status_code == 200


def test_public_files_are_cached_by_the_proxy(live: Live) -> None:
    if live.proxy == "caddy":
        pytest.skip("Caddy has no response cache without a plugin; Roost's Cache-Control passes through")
    with httpx.Client(verify=_tls(live.ca), timeout=10) as http:
        res = http.post(f"{live.url}/api/collections/docs/records", data={"n": "5"},
                        files={"file": ("hello.txt", b"hello through the proxy", "text/plain")})
        assert res.status_code == 200, res.text
        record = res.json()
        url = f"{live.url}/api/files/docs/{record['id']}/{record['file']}"
        first, second = http.get(url), http.get(url)
    assert first.status_code == second.status_code == 200
    assert second.content == b"hello through the proxy"
    assert second.headers["strict-transport-security"].startswith("max-age=")
    assert "max-age" in second.headers["cache-control"]
    if live.proxy == "nginx":
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
    else:
        assert "HIT" in second.headers.get("x-cache", ""), dict(second.headers)
