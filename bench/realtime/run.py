"""Realtime side by side: N SSE subscribers, writes at a fixed rate, delivery latency and memory.

    .venv/bin/python bench/realtime/run.py --subscribers 1000 --rate 20 --rounds 2
    .venv/bin/python bench/realtime/run.py --subscribers 5000 --rate 4 --rounds 2

Starts Roost (the default `roost serve`, one process, or ``--workers N`` over Redis) and the reference server on free
loopback ports, one after the other and alternating per round, opens N SSE connections (one
uvloop process, one ``asyncio.Protocol`` per connection), subscribes each to ``bench/*``, writes
at ``--rate`` records per second for ``--seconds`` and measures, per delivered event, the time
from the write request being sent to the frame arriving. Server CPU per delivered event is read
from /proc for the server's whole process tree, and so is RSS per connection = (RSS with N idle
connections - RSS before) / N. Results print as a Markdown table with the load average before
each run (the machine may be shared) and the ratios against the reference server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.servers import LiveServer, start_server

REDIS_URL = os.environ.get("ROOST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


NUMBER = re.compile(rb'"n":(\d+)')


class Subscriber(asyncio.Protocol):
    """One raw SSE connection. Frames are parsed in ``data_received`` (no task per connection), so
    the client spends as little CPU per frame as possible and measures both servers the same way."""

    def __init__(self, sent: dict[int, float], latencies: list[float]) -> None:
        self.sent, self.latencies = sent, latencies
        self.connected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        data = self.buffer + data
        if not self.connected.done():
            if b"PB_CONNECT" not in data or b"}\n\n" not in data:
                self.buffer = data
                return
            self.connected.set_result(data.split(b"\nid:", 1)[1].split(b"\n", 1)[0].decode())
            data = data.split(b"}\n\n", 1)[1]
        # a number split across two reads is read once the rest arrives
        cut = data.rfind(b"\n\n") + 2
        if cut < 2:
            self.buffer = data
            return
        self.buffer = data[cut:]
        for n in NUMBER.findall(data, 0, cut):
            sent = self.sent.get(int(n))
            if sent is not None:
                self.latencies.append(now - sent)


async def open_stream(host: str, port: int, sent: dict[int, float], latencies: list[float]) -> tuple[asyncio.Transport, str]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(lambda: Subscriber(sent, latencies), host, port)
    transport.write(f"GET /api/realtime HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return transport, await protocol.connected


async def scenario(server: LiveServer, subscribers: int, rate: float, seconds: float) -> dict[str, float]:
    base, pids = server.base_url, process_tree(server.process.pid)
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": server.superuser_token()}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        await http.post("/api/collections", json={"name": "bench", "listRule": "", "fields": [{"name": "n", "type": "number"}]})
        before = sum(map(rss_kb, pids))
        sent: dict[int, float] = {}
        latencies: list[float] = []
        streams: list[tuple[asyncio.Transport, str]] = []
        for start in range(0, subscribers, 200):
            batch = range(start, min(subscribers, start + 200))
            streams += await asyncio.gather(*(open_stream(host, int(port), sent, latencies) for _ in batch))
        fresh = httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
        async with fresh:
            for start in range(0, subscribers, 200):
                await asyncio.gather(*(subscribe(http, fresh, cid) for _, cid in streams[start:start + 200]))
        await asyncio.sleep(1.0)
        idle_rss = sum(map(rss_kb, pids))
        cpu_before = sum(map(cpu_seconds, pids))
        client_before = time.process_time()
        total = int(rate * seconds)
        started = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            sent[n] = time.perf_counter()
            await http.post("/api/collections/bench/records", json={"n": n})
        writes_done = time.perf_counter() - started
        expected = total * subscribers
        deadline = time.perf_counter() + 30
        while len(latencies) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = sum(map(cpu_seconds, pids)) - cpu_before
        client_cpu = time.process_time() - client_before
        for transport, _ in streams:
            transport.close()
    latencies.sort()
    got = len(latencies) or 1
    return {
        "delivered": len(latencies) / expected,
        "p50_ms": latencies[got // 2 - 1] * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(got * 0.99) - 1] * 1000 if latencies else float("nan"),
        "events_per_s": len(latencies) / elapsed,
        "server_cpu_us_per_event": cpu / max(len(latencies), 1) * 1e6,
        "client_cpu_us_per_event": client_cpu / max(len(latencies), 1) * 1e6,
        "write_seconds": writes_done,
        "rss_kb_per_conn": (idle_rss - before) / subscribers,
    }


async def subscribe(http: httpx.AsyncClient, fresh: httpx.AsyncClient, client_id: str) -> None:
    """Subscribe one stream. Under ``--workers`` a POST that reaches a process other than the
    stream's answers 404 until subscriptions are routed between processes; ``fresh`` opens a new
    connection per request, which reaches a process at random, so the bench retries there."""
    body = {"clientId": client_id, "subscriptions": ["bench/*"]}
    res = await http.post("/api/realtime", json=body)
    for _ in range(1000):
        if res.status_code == 204:
            return
        if res.status_code != 404:
            res.raise_for_status()
        await asyncio.sleep(0.01)
        res = await fresh.post("/api/realtime", json=body)
    raise RuntimeError(f"could not subscribe {client_id}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``--workers`` runs one process per worker under a parent)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            todo += [int(child) for child in children]
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(kind: str, workers: int) -> LiveServer:
    """PocketBase, or Roost in one process (``workers == 1``) or N workers over Redis."""
    # every subscriber connects from loopback: lift the per-IP connection and stream caps
    caps = {"ROOST_MAX_CONNECTIONS_PER_IP": "0", "ROOST_MAX_STREAMS_PER_IP": "0"}
    os.environ.update(caps)
    if kind == "roost" and workers > 1:
        os.environ.update(ROOST_WORKERS=str(workers), ROOST_REDIS_URL=REDIS_URL, ROOST_DB_SCHEMA=f"bench{os.getpid()}")
    elif kind == "roost" and workers == 1:
        os.environ["ROOST_WORKERS"] = "1"
    try:
        server = start_server(kind)
    finally:
        for key in ("ROOST_WORKERS", "ROOST_REDIS_URL", "ROOST_DB_SCHEMA", *caps):
            os.environ.pop(key, None)
    if kind == "roost" and workers != 1:
        deadline = time.monotonic() + 20
        # the parent, multiprocessing's resource tracker and every worker (default: one per core)
        wanted = (workers or len(os.sched_getaffinity(0))) + 2
        while len(process_tree(server.process.pid)) < wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # the last worker may still be building its app
    return server


def label(kind: str, workers: int) -> str:
    if kind != "roost":
        return kind
    if workers == 0:
        return "roost (default serve)"
    return "roost --workers 1" if workers == 1 else f"roost --workers {workers} (Redis)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--kinds", nargs="+", default=["roost", "pocketbase"])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="Roost worker counts to run: 0 = the default `roost serve` (one worker per core, "
                        "embedded hub), 1 = one process, N > 1 = N workers over Redis")
    parser.add_argument("--out", type=Path, help="also write every round as JSON here")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; each column shows its median")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    configs = [(k, w) for k in args.kinds for w in (args.workers if k == "roost" else [1])]
    results: dict[tuple[int, str], list[dict[str, float]]] = {}
    for subscribers in args.subscribers:
        for _ in range(args.rounds):
            for kind, workers in configs:
                load1 = os.getloadavg()[0]
                server = start(kind, workers)
                try:
                    result = uvloop.run(scenario(server, subscribers, args.rate, args.seconds))
                finally:
                    server.stop()
                result["load1"] = load1
                results.setdefault((subscribers, label(kind, workers)), []).append(result)
                print(subscribers, label(kind, workers), {k: round(v, 3) for k, v in result.items()}, flush=True)
    report(results, args)
    if args.out is not None:
        rows = [{"subscribers": n, "server": name, "rounds": rounds} for (n, name), rounds in results.items()]
        args.out.write_text(json.dumps({"rate": args.rate, "seconds": args.seconds, "results": rows}, indent=1))


def report(results: dict[tuple[int, str], list[dict[str, float]]], args: argparse.Namespace) -> None:
    median = {key: {m: statistics.median(r[m] for r in rounds) for m in rounds[0]} for key, rounds in results.items()}
    print(f"\n{args.rate:g} writes/s for {args.seconds:g} s, {args.rounds} alternating round(s), median of the rounds per column; "
          f"{os.cpu_count()} cores")
    print("\n| subscribers | server | delivered | p50 ms | p99 ms | events/s | server CPU µs/event | RSS KiB/conn | load before |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (subscribers, name), r in median.items():
        print(f"| {subscribers:,} | {name} | {r['delivered']:.1%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['events_per_s']:,.0f} | {r['server_cpu_us_per_event']:.1f} | {r['rss_kb_per_conn']:.1f} | {r['load1']:.1f} |")
    print()
    for (subscribers, name), r in median.items():
        pb = median.get((subscribers, "pocketbase"))
        if pb is None or name == "pocketbase":
            continue
        print(f"{subscribers:,} subscribers, {name} / pocketbase: p50 {r['p50_ms'] / pb['p50_ms']:.2f}, "
              f"p99 {r['p99_ms'] / pb['p99_ms']:.2f}, events/s {r['events_per_s'] / pb['events_per_s']:.2f}, "
              f"RSS/conn {r['rss_kb_per_conn'] / max(pb['rss_kb_per_conn'], 0.1):.2f}")


if __name__ == "__main__":
    main()
