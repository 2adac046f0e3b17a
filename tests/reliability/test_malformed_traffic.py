"""R14 (malformed half): a flood of broken HTTP never gets a 5xx, never kills the process, and
normal requests made at the same time are all answered."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx

from tests.reliability.procs import RoostProcess

SEED = 1409
COUNT = 1000
CONCURRENCY = 16

_RECORDS = "/api/collections/items/records"


def _malformed(rng: random.Random) -> bytes:
    """One broken request of a kind picked at random."""
    kind = rng.randrange(12)
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if kind == 0:
        return junk
    if kind == 1:
        return b"GET /" + junk.replace(b"\r", b"").replace(b"\n", b"") + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 2:
        body = b'{"text": ' + junk
        return b"POST " + _RECORDS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    if kind == 3:  # a body shorter than announced, then the client goes away
        return b"POST " + _RECORDS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"text\":"
    if kind == 4:  # both framings at once (smuggling shape)
        return (b"POST " + _RECORDS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")  # fmt: skip
    if kind == 5:
        return b"POST " + _RECORDS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 40\r\n\r\n--zz\r\nContent-Disposition: form-data\r\n\r\n"
    if kind == 6:
        return b"GET " + _RECORDS.encode() + b"?filter=" + b"(" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 7:
        return b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60_000 + b"\r\n\r\n"
    if kind == 8:
        return b"BREW /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 9:
        body = b'{"text": "\xff\xfe\xfd"}'
        return b"POST " + _RECORDS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    if kind == 10:
        return b"GET " + _RECORDS.encode() + b"?page=-1&perPage=1e99&sort=%00&expand=" + b"a." * 50 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    return b"POST /api/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"requests\":[{\"headers\":1}]}"


async def _send_raw(port: int, payload: bytes, statuses: list[int]) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout=10)
    except OSError:
        statuses.append(-1)
        return
    try:
        writer.write(payload)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), timeout=20)
        if line.startswith(b"HTTP/1.1 "):
            statuses.append(int(line.split()[1]))
    except (OSError, TimeoutError, ValueError):
        pass  # the server dropping a broken connection is an answer too
    finally:
        writer.close()


async def _normal(base_url: str, stop: asyncio.Event, statuses: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while not stop.is_set():
            statuses.append((await http.get(_RECORDS, params={"perPage": 5})).status_code)


async def test_a_flood_of_malformed_requests_gets_no_5xx(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path)
    proc.start()
    try:
        body = {"name": "items", "listRule": "", "createRule": "", "fields": [{"name": "text", "type": "text"}]}
        res = httpx.post(f"{proc.base_url}/api/collections", json=body, headers={"Authorization": proc.superuser_token()})
        assert res.status_code == 200
        rng = random.Random(SEED)
        payloads = [_malformed(rng) for _ in range(COUNT)]
        broken: list[int] = []
        normal: list[int] = []
        stop = asyncio.Event()
        normals = [asyncio.create_task(_normal(proc.base_url, stop, normal)) for _ in range(2)]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(payload: bytes) -> None:
            async with gate:
                await _send_raw(proc.port, payload, broken)

        await asyncio.gather(*(one(p) for p in payloads))
        stop.set()
        await asyncio.gather(*normals)
        assert proc.process is not None and proc.process.poll() is None, proc.log_tail()
        assert httpx.get(f"{proc.base_url}/api/health", timeout=10).status_code == 200
    finally:
        proc.stop()
    server_errors = sorted(s for s in broken if s >= 500)
    assert not server_errors, f"{len(server_errors)} 5xx answers to malformed requests: {server_errors[:10]}"
    assert -1 not in broken, "the server refused connections during the flood"
    assert normal and set(normal) == {200}, sorted(set(normal))
    assert len(broken) > COUNT // 2  # most broken requests still got an HTTP answer
