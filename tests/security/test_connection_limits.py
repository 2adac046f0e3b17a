"""S15 connection-level limits of ``roost serve``: a slow head, a slow body, a huge head, many
sockets or streams from one address, and oversized WebSocket messages. Outcomes only (a closed socket, a
4xx, a 1009 close, health still answering); every loop is bounded.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.e2e.servers import LiveServer
from tests.roost_process import roost_process

CONNECTIONS_PER_IP = 24
STREAMS_PER_IP = 3
FLAGS = ["--header-timeout", "2", "--body-timeout", "2", "--max-header-size", "16384",
         "--max-connections-per-ip", str(CONNECTIONS_PER_IP), "--max-streams-per-ip", str(STREAMS_PER_IP)]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with roost_process(tmp_path_factory.mktemp("limits"), *FLAGS) as live:
        yield live


def _open(server: LiveServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _answer(sock: socket.socket) -> bytes | None:
    """What the server sent before it closed (b"" for a bare close or a reset), or None when
    the socket was still open at its timeout."""
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        return None
    except OSError:
        pass
    return out


def _healthy(server: LiveServer) -> bool:
    for _ in range(50):  # the caps free their slots as the closes are noticed
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/api/health", timeout=5).status_code == 200:
                return True
        time.sleep(0.1)
    return False


def _dribble_until_closed(sock: socket.socket, data: bytes, interval: float) -> bool:
    """Send ``data`` a byte per ``interval``; True as soon as the server answers or closes."""
    sock.settimeout(interval)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            sock.recv(4096)  # b"" (closed) or a 408: the server ended the request either way
            return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_a_slowloris_head_is_cut_off(server: LiveServer) -> None:
    with _open(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        assert _dribble_until_closed(sock, b"X-Slow: " + b"a" * 40, 0.25)  # 12 s at most
    assert _healthy(server)


def test_a_slowly_dribbled_body_answers_408(server: LiveServer) -> None:
    with _open(server) as sock:
        head = b"POST /api/collections/users/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(head + b"Content-Length: 4000\r\n\r\n" + b'{"email": "')
        answer = b""
        sock.settimeout(0.25)
        for _ in range(60):  # a byte every 0.25 s: the 2 s deadline passes long before 15 s
            try:
                sock.sendall(b"a")
                answer = sock.recv(4096)
                break
            except TimeoutError:
                continue
            except OSError:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert _healthy(server)


def test_a_large_upload_on_a_fast_connection_is_unaffected(server: LiveServer) -> None:
    su = {"Authorization": server.superuser_token()}
    with httpx.Client(base_url=server.base_url, headers=su, timeout=30) as http:
        docs = {"name": "docs", "fields": [{"name": "file", "type": "file", "maxSize": 40 << 20}]}
        assert http.post("/api/collections", json=docs).status_code == 200
        big = bytes(range(256)) * (24 << 12)  # 24 MiB, well past the socket buffers: many reads
        res = http.post("/api/collections/docs/records", files={"file": ("big.bin", big)})
        assert res.status_code == 200, res.text
        again = http.get(f"/api/files/docs/{res.json()['id']}/{res.json()['file']}")
        assert again.status_code == 200 and again.content == big


def test_an_idle_connection_is_cut_off(server: LiveServer) -> None:
    with _open(server) as sock:
        sock.settimeout(10)
        assert _answer(sock) == b""  # closed without a word; never a hang past the timeout


def _health_on(sock: socket.socket) -> bytes:
    """One health request on an open keep-alive connection; its whole answer."""
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_a_connection_idle_after_its_answer_is_closed_at_the_keep_alive_timeout(server: LiveServer) -> None:
    """uvicorn's keep-alive timeout (5 s): kept by one watch per connection, not a timer per request."""
    with _open(server) as sock:
        assert _health_on(sock).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        sock.settimeout(15)
        assert _answer(sock) == b""
        idle = time.monotonic() - answered
    assert 4.5 <= idle <= 8, idle


def test_a_busy_connection_outlives_its_deadlines_and_its_next_head_has_one_too(server: LiveServer) -> None:
    """Requests 0.4 s apart for 5 s on one connection (past the 2 s head deadline set when it
    opened, and 5 s after its first answer) are all answered; then a slow head on the same
    connection is cut off by its own deadline."""
    with _open(server) as sock:
        started = time.monotonic()
        answered = 0
        while time.monotonic() - started < 5:
            assert _health_on(sock).startswith(b"HTTP/1.1 200")
            answered += 1
            time.sleep(0.4)
        assert answered >= 10
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        slow_since = time.monotonic()
        assert _dribble_until_closed(sock, b"X-Slow: " + b"a" * 40, 0.25)
        assert time.monotonic() - slow_since < 6


def test_a_head_over_the_size_limit_answers_431(server: LiveServer) -> None:
    with _open(server) as sock:
        sock.settimeout(10)
        head = b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(64))
        with contextlib.suppress(OSError):  # the server may close while we still write
            sock.sendall(head + b"\r\n")
        answer = _answer(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
    normal = httpx.get(f"{server.base_url}/api/health", headers={"X-Pad": "a" * 8000}, timeout=5)
    assert normal.status_code == 200


def test_one_address_cannot_hold_more_than_its_connections(server: LiveServer) -> None:
    held = [_open(server) for _ in range(CONNECTIONS_PER_IP)]
    try:
        for sock in held:  # each one is really in use, so none is the one refused
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with _open(server) as extra:
            extra.settimeout(5)
            with contextlib.suppress(OSError):
                extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _answer(extra)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 429"), answer[:200]
    finally:
        for sock in held:
            sock.close()
    assert _healthy(server)


def test_one_address_cannot_hold_more_than_its_realtime_streams(server: LiveServer) -> None:
    base = server.base_url
    with contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        for _ in range(STREAMS_PER_IP - 1):
            sse = stack.enter_context(http.stream("GET", "/api/realtime"))
            assert sse.status_code == 200
        ws = stack.enter_context(ws_connect(base.replace("http", "ws") + "/api/realtime/ws", open_timeout=10))
        assert '"connect"' in str(ws.recv(timeout=10))
        over = http.get("/api/realtime", timeout=10)
        assert over.status_code == 429, over.text
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(base.replace("http", "ws") + "/api/realtime/ws", open_timeout=10)
        assert refused.value.response.status_code == 429
    assert _healthy(server)
    again = httpx.Client(base_url=base, timeout=10)
    with again, again.stream("GET", "/api/realtime") as sse:
        assert sse.status_code == 200  # the slots came back


def test_a_websocket_message_over_64_kib_closes_the_socket_with_1009(server: LiveServer) -> None:
    with ws_connect(server.base_url.replace("http", "ws") + "/api/realtime/ws", open_timeout=10) as ws:
        assert '"connect"' in str(ws.recv(timeout=10))
        ws.send('{"type":"ping","id":"' + "a" * 70_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):  # a pong would arrive first only if the message was accepted
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with ws_connect(server.base_url.replace("http", "ws") + "/api/realtime/ws", open_timeout=10) as ws:
        ws.recv(timeout=10)
        ws.send('{"type":"ping","id":"' + "a" * 60_000 + '"}')
        assert '"pong"' in str(ws.recv(timeout=10))
