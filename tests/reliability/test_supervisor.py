"""The supervisor of ``roost serve --workers N`` (:mod:`roost.server.supervisor`): SIGHUP
replaces every worker without a gap in service, a killed worker is replaced, and workers whose
supervisor was killed stop by themselves instead of serving on unsupervised. SIGTTIN adds a worker
that serves on a socket of its own, and SIGTTOU removes the newest one, never the last."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.reliability.procs import RoostProcess


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(what)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _server(tmp_path: Path) -> RoostProcess:
    env = {"ROOST_WORKERS": "2", "ROOST_INSTANCE_ID": "auto"}  # each answer names its process
    server = RoostProcess(tmp_path / "roost", extra=("--workers", "2"), env=env)
    server.root.mkdir()
    server.start()
    return server


def test_sighup_replaces_every_worker_while_requests_keep_being_answered(tmp_path: Path) -> None:
    server = _server(tmp_path)
    assert server.process is not None
    before = set(server.worker_pids())
    assert len(before) == 2
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal answered
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            while not stop.is_set():
                try:
                    res = http.get("/api/health")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if res.status_code != 200:
                    failures.append(f"{res.status_code}: {res.text}")
                answered += 1

    thread = threading.Thread(target=load)
    thread.start()
    try:
        time.sleep(0.5)
        os.kill(server.process.pid, signal.SIGHUP)
        _wait_for(lambda: not (before & set(server.worker_pids())) and len(server.worker_pids()) == 2,
                  f"the workers were not replaced: {before} -> {server.worker_pids()}")  # fmt: skip
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        server.stop()
    assert answered > 50, answered
    assert not failures, failures[:5]


def test_a_killed_worker_is_replaced(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        victim, survivor = server.worker_pids()
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(),
                  f"no replacement: {server.worker_pids()}")  # fmt: skip
        (replacement,) = set(server.worker_pids()) - {survivor}
        seen: set[str] = set()

        def both_answer() -> bool:
            with httpx.Client(base_url=server.base_url, timeout=5) as http:
                seen.add(http.get("/api/health").headers["x-roost-instance"].rsplit(":", 1)[1])
            return str(replacement) in seen

        _wait_for(both_answer, f"the replacement never answered: {seen}")
    finally:
        server.stop()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    server = _server(tmp_path)
    assert server.process is not None
    workers = server.worker_pids()
    try:
        os.kill(server.process.pid, signal.SIGKILL)  # only the supervisor, as an OOM kill might
        server.process.wait(timeout=10)
        _wait_for(lambda: all(_gone(pid) for pid in workers), "the workers kept serving without a supervisor", 20)
    finally:
        server.kill9() if server.process.poll() is None else None
        for pid in workers:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_sigttin_adds_a_serving_worker_and_sigttou_removes_one_down_to_the_last(tmp_path: Path) -> None:
    server = _server(tmp_path)
    assert server.process is not None
    first = set(server.worker_pids())
    try:
        os.kill(server.process.pid, signal.SIGTTIN)
        _wait_for(lambda: len(server.worker_pids()) == 3, f"no third worker: {server.worker_pids()}")
        (added,) = set(server.worker_pids()) - first
        # the new worker listens on a socket of its own: new connections reach it too
        seen: set[str] = set()
        for _ in range(200):
            with httpx.Client(base_url=server.base_url, timeout=10) as http:  # a new connection each
                res = http.get("/api/health")
            assert res.status_code == 200, res.text
            seen.add(res.headers["x-roost-instance"])
            if any(label.endswith(f":{added}") for label in seen):
                break
        assert any(label.endswith(f":{added}") for label in seen), (added, seen)

        os.kill(server.process.pid, signal.SIGTTOU)
        _wait_for(lambda: len(server.worker_pids()) == 2, f"no worker removed: {server.worker_pids()}")
        assert added not in server.worker_pids()  # the newest worker goes first
        os.kill(server.process.pid, signal.SIGTTOU)
        _wait_for(lambda: len(server.worker_pids()) == 1, f"no second removal: {server.worker_pids()}")
        os.kill(server.process.pid, signal.SIGTTOU)  # the last worker stays
        time.sleep(1.5)
        assert len(server.worker_pids()) == 1
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for _ in range(20):
                assert http.get("/api/health").status_code == 200
    finally:
        server.stop()
