"""R5: SIGTERM under load. Every request the server accepted gets its answer, open realtime
streams do not hold the process, and it exits by itself."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx

from tests.reliability.procs import RoostProcess

CLIENTS = 6


async def _load(
    base_url: str, outcomes: Counter[str], stop: asyncio.Event, term: asyncio.Event
) -> None:
    # each client keeps one connection the server accepted before the signal; a request sent
    # before SIGTERM must be answered, later ones may find the connection closed (never a 5xx)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=20.0, limits=httpx.Limits(max_connections=1)
    ) as http:
        n = 0
        while not stop.is_set():
            n += 1
            before = not term.is_set()
            try:
                if n % 3:
                    res = await http.get("/api/collections/notes/records", params={"perPage": 5})
                else:
                    res = await http.post("/api/collections/notes/records", json={"text": f"n{n}"})
            except httpx.HTTPError as exc:
                outcomes[f"failed: {type(exc).__name__}" if before else "not accepted"] += 1
                await asyncio.sleep(0.01)
                continue
            outcomes["ok" if res.status_code == 200 else f"status {res.status_code}"] += 1


async def _open_stream(base_url: str, opened: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=None) as http:
        try:
            async with http.stream("GET", "/api/realtime") as res:
                async for _ in res.aiter_bytes():
                    opened.set()
        except httpx.HTTPError:
            pass  # the server closing the stream is the expected end


async def test_sigterm_under_load_answers_every_accepted_request(tmp_path: Path) -> None:
    proc = RoostProcess(tmp_path)
    proc.start()
    try:
        token = proc.superuser_token()
        body = {
            "name": "notes",
            "listRule": "",
            "createRule": "",
            "fields": [{"name": "text", "type": "text"}],
        }
        assert (
            httpx.post(
                f"{proc.base_url}/api/collections", json=body, headers={"Authorization": token}
            ).status_code
            == 200
        )
        outcomes: Counter[str] = Counter()
        stop, opened, term = asyncio.Event(), asyncio.Event(), asyncio.Event()
        stream = asyncio.create_task(_open_stream(proc.base_url, opened))
        await asyncio.wait_for(opened.wait(), timeout=10)
        clients = [
            asyncio.create_task(_load(proc.base_url, outcomes, stop, term)) for _ in range(CLIENTS)
        ]
        while outcomes["ok"] < 200:
            await asyncio.sleep(0.01)
        assert proc.process is not None
        term.set()
        proc.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.process.wait, 30)
        stop.set()
        await asyncio.gather(*clients)
        await asyncio.wait_for(stream, timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the server did not exit after SIGTERM:\n{proc.log_tail()}") from None
    finally:
        proc.stop()
    failures = {k: v for k, v in outcomes.items() if k not in ("ok", "not accepted")}
    assert code in (0, -signal.SIGTERM), (
        proc.log_tail()
    )  # uvicorn re-raises the signal once it is done
    assert not failures, f"{failures} (of {sum(outcomes.values())} requests)"


async def _listener_closed(port: int) -> None:
    """Return once new connections are refused: the server has begun its shutdown. A connect
    the kernel had queued when the listener closed is reset instead of refused: closed too."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionRefusedError, ConnectionResetError):
            return
        writer.close()
        await asyncio.sleep(0.005)


async def test_a_request_on_an_idle_keep_alive_connection_is_answered_during_shutdown(
    tmp_path: Path,
) -> None:
    # a proxy reuses idle upstream connections: its next request may already be on the wire
    # when the signal comes, and nginx does not replay a POST that was sent (a 502 for the user)
    proc = RoostProcess(tmp_path)
    proc.start()
    request = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
        writer.write(request)
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert first.startswith(b"HTTP/1.1 200")
        await reader.readexactly(int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0]))
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(_listener_closed(proc.port), 10)
        writer.write(request)  # on the connection that was idle when the shutdown began
        second = await asyncio.wait_for(reader.read(), 10)  # the answer, then the server closes
        writer.close()
        code = await asyncio.to_thread(proc.process.wait, 30)
    finally:
        proc.stop()
    assert second.startswith(b"HTTP/1.1 200"), second
    assert b"connection: close" in second.lower()
    assert code in (0, -signal.SIGTERM), proc.log_tail()


def test_a_stop_is_not_held_by_a_worker_that_does_not_answer_its_health_check(tmp_path: Path) -> None:
    """A worker that cannot answer the supervisor's ping (here frozen with SIGSTOP; in life a
    replacement still importing on a busy machine) must not hold a SIGTERM for the 30 s the
    health check allows: the other worker is told to stop within moments."""
    import os
    import time

    server = RoostProcess(tmp_path / "roost", extra=("--workers", "2"), env={"ROOST_WORKERS": "2"})
    server.root.mkdir()
    server.start()
    assert server.process is not None
    frozen, other = server.worker_pids()
    try:
        os.kill(frozen, signal.SIGSTOP)
        time.sleep(1.5)  # the supervisor's next check is now waiting on the frozen worker
        os.kill(server.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and Path(f"/proc/{other}").exists() and "Z" not in _state(other):
            time.sleep(0.1)
        assert not Path(f"/proc/{other}").exists() or "Z" in _state(other), "the SIGTERM was held"
    finally:
        os.kill(frozen, signal.SIGCONT)
        server.stop()
    assert server.process.wait(timeout=10) is not None


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
