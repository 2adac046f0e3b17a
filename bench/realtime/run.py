"""Realtime side by side: N SSE subscribers, writes at a fixed rate, delivery latency and memory.

    .venv/bin/python bench/realtime/run.py --subscribers 1000 5000 --rate 20 --seconds 10

Starts Roost and the reference server on free loopback ports, one after the other, opens N
SSE connections (one asyncio process, raw sockets), subscribes each to ``bench/*``, writes at
``--rate`` records per second and measures, per delivered event, the time from the write
request being sent to the frame arriving. RSS per connection = (RSS with N idle connections -
RSS before) / N, read from /proc. Results print as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.servers import start_server  # noqa: E402


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


#: stream writers must outlive open_stream: a collected StreamWriter closes its connection
_WRITERS: list[asyncio.StreamWriter] = []


async def open_stream(host: str, port: int) -> tuple[asyncio.StreamReader, str]:
    reader, writer = await asyncio.open_connection(host, port)
    _WRITERS.append(writer)
    writer.write(f"GET /api/realtime HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    data = b""
    while b"PB_CONNECT" not in data or b"}\n\n" not in data:
        data += await reader.read(4096)
    return reader, data.split(b"\nid:", 1)[1].split(b"\n", 1)[0].decode()


async def consume(reader: asyncio.StreamReader, sent: dict[int, float], latencies: list[float]) -> None:
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        now = time.perf_counter()
        for part in chunk.split(b'"n":')[1:]:
            n = int(part.split(b",", 1)[0].split(b"}", 1)[0])
            if n in sent:
                latencies.append(now - sent[n])


async def scenario(base: str, pid: int, subscribers: int, rate: float, seconds: float, token: str) -> dict[str, float]:
    host, port = base.removeprefix("http://").split(":")
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": token}, timeout=60) as http:
        await http.post("/api/collections", json={"name": "bench", "listRule": "", "fields": [{"name": "n", "type": "number"}]})
        before = rss_kb(pid)
        streams = []
        for start in range(0, subscribers, 200):
            streams += await asyncio.gather(*(open_stream(host, int(port)) for _ in range(start, min(subscribers, start + 200))))
        for start in range(0, subscribers, 200):
            await asyncio.gather(*(http.post("/api/realtime", json={"clientId": cid, "subscriptions": ["bench/*"]})
                                   for _, cid in streams[start:start + 200]))
        await asyncio.sleep(1.0)
        idle_rss = rss_kb(pid)
        sent: dict[int, float] = {}
        latencies: list[float] = []
        tasks = [asyncio.create_task(consume(r, sent, latencies)) for r, _ in streams]
        total = int(rate * seconds)
        started = time.perf_counter()
        for n in range(total):
            target = started + n / rate
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
            sent[n] = time.perf_counter()
            await http.post("/api/collections/bench/records", json={"n": n})
        expected = total * subscribers
        deadline = time.perf_counter() + 30
        while len(latencies) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        for task in tasks:
            task.cancel()
    latencies.sort()
    got = len(latencies) or 1
    return {
        "delivered": len(latencies) / expected,
        "p50_ms": latencies[got // 2 - 1] * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(got * 0.99) - 1] * 1000 if latencies else float("nan"),
        "events_per_s": len(latencies) / elapsed,
        "rss_kb_per_conn": (idle_rss - before) / subscribers,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--kinds", nargs="+", default=["roost", "pocketbase"])
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    rows = []
    for subscribers in args.subscribers:
        for kind in args.kinds:
            live = start_server(kind)
            try:
                token = live.superuser_token()
                result = asyncio.run(scenario(live.base_url, live.process.pid, subscribers, args.rate, args.seconds, token))
            finally:
                live.stop()
            rows.append((subscribers, kind, result))
            print(subscribers, kind, result, flush=True)
    print("\n| subscribers | server | delivered | p50 ms | p99 ms | events/s | RSS KiB/conn |")
    print("|---|---|---|---|---|---|---|")
    for subscribers, kind, r in rows:
        print(f"| {subscribers} | {kind} | {r['delivered']:.1%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['events_per_s']:.0f} | {r['rss_kb_per_conn']:.1f} |")
    by = {(s, k): r for s, k, r in rows}
    for subscribers in args.subscribers:
        roost, pb = by.get((subscribers, "roost")), by.get((subscribers, "pocketbase"))
        if roost and pb:
            print(f"ratio roost/pocketbase at {subscribers}: p50 {roost['p50_ms'] / pb['p50_ms']:.2f}, "
                  f"p99 {roost['p99_ms'] / pb['p99_ms']:.2f}, RSS/conn {roost['rss_kb_per_conn'] / max(pb['rss_kb_per_conn'], 0.1):.2f}")
    os.environ.pop("_", None)


if __name__ == "__main__":
    main()
