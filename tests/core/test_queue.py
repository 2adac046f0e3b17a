"""The durable job queue on real databases: runs, retries, failures, restarts, transactions, clusters."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from roost import Config, Roost
from roost.core.app import App
from roost.core.queue import PermanentFailure, current_job
from roost.testing import ServiceUnavailable
from roost.testing.databases import temporary_database
from tests.conftest import skip_or_fail


@asynccontextmanager
async def started(data_dir: Path, database: dict[str, Any]) -> AsyncIterator[App]:
    server = Roost(Config(data_dir=data_dir, **database))
    await server.start()
    try:
        server.app.queue.poll_interval = 0.05
        yield server.app
    finally:
        await server.stop()


@asynccontextmanager
async def database_for(backend: str) -> AsyncIterator[dict[str, Any]]:
    try:
        async with temporary_database(backend) as database:
            yield database
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


async def settled(app: App, job_id: str) -> dict[str, Any]:
    """The job's row once it is done or failed (the loop is bounded, not timed)."""
    for _ in range(2000):
        job = await app.queue.get(job_id)
        assert job is not None
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"job never settled: {job}")


@pytest.fixture
async def app(backend: str, tmp_path: Path) -> AsyncIterator[App]:
    async with database_for(backend) as database, started(tmp_path, database) as app:
        yield app


async def test_a_job_runs_with_its_payload_off_the_request(app: App) -> None:
    seen: list[Any] = []

    async def handler(payload: dict[str, Any]) -> None:
        seen.append((payload, current_job()))

    app.queue.register("note", handler)
    job_id = await app.queue.enqueue("note", {"text": "hi", "n": [1, 2]})
    job = await settled(app, job_id)
    assert (job["status"], job["attempts"], job["lastError"]) == ("done", 1, "")
    [(payload, info)] = seen
    assert payload == {"text": "hi", "n": [1, 2]}
    assert (info.id, info.kind, info.attempt, info.max_attempts) == (job_id, "note", 1, 5)


async def test_failures_are_retried_with_growing_backoff_until_success(app: App) -> None:
    runs: list[float] = []
    asked: list[int] = []

    async def flaky(payload: dict[str, Any]) -> None:
        runs.append(time.monotonic())
        if len(runs) < 3:
            raise ConnectionError(f"down {len(runs)}")

    def backoff(attempt: int) -> float:
        asked.append(attempt)
        return 0.1 * 2.0**attempt

    app.queue.register("flaky", flaky, max_attempts=5, backoff=backoff)
    job = await settled(app, await app.queue.enqueue("flaky", {}))
    assert (job["status"], job["attempts"]) == ("done", 3)
    assert asked == [1, 2]
    assert runs[1] - runs[0] >= 0.2 and runs[2] - runs[1] >= 0.4


async def test_the_default_backoff_is_exponential_with_jitter(app: App) -> None:
    async def failing(payload: dict[str, Any]) -> None:
        raise RuntimeError("no")

    app.queue.register("later", failing, max_attempts=3, backoff=10.0)
    job_id = await app.queue.enqueue("later", {})
    for _ in range(2000):
        job = await app.queue.get(job_id)
        assert job is not None
        if job["attempts"] == 1 and job["status"] == "pending":
            break
        await asyncio.sleep(0.01)
    assert job is not None and job["lastError"] == "RuntimeError: no"
    assert 8000 <= job["runAt"] - job["updated"] <= 12000


async def test_a_job_fails_after_max_attempts_with_the_last_error(app: App) -> None:
    attempts: list[int] = []

    async def broken(payload: dict[str, Any]) -> None:
        attempts.append(current_job().attempt)  # type: ignore[union-attr]
        raise ValueError(f"boom {len(attempts)}")

    app.queue.register("broken", broken, max_attempts=3, backoff=0.01)
    job = await settled(app, await app.queue.enqueue("broken", {}))
    assert (job["status"], job["attempts"], job["lastError"]) == ("failed", 3, "ValueError: boom 3")
    assert attempts == [1, 2, 3]


async def test_a_permanent_failure_is_not_retried(app: App) -> None:
    async def refuse(payload: dict[str, Any]) -> None:
        raise PermanentFailure("refused: bad address")

    app.queue.register("refuse", refuse, max_attempts=5, backoff=0.01)
    job = await settled(app, await app.queue.enqueue("refuse", {}))
    assert (job["status"], job["attempts"], job["lastError"]) == (
        "failed",
        1,
        "refused: bad address",
    )


async def test_an_enqueue_rolls_back_with_its_transaction(app: App) -> None:
    ran: list[str] = []

    async def handler(payload: dict[str, Any]) -> None:
        ran.append(payload["which"])

    app.queue.register("tx", handler)
    kept: list[str] = []
    with pytest.raises(RuntimeError):
        async with app.db.transaction():
            kept.append(await app.queue.enqueue("tx", {"which": "rolled back"}))
            raise RuntimeError("abort")
    async with app.db.transaction():
        committed = await app.queue.enqueue("tx", {"which": "committed"})
    await settled(app, committed)
    assert await app.queue.get(kept[0]) is None
    assert ran == ["committed"]


async def test_unknown_kinds_and_non_json_payloads_are_refused(app: App) -> None:
    with pytest.raises(ValueError, match="no handler"):
        await app.queue.enqueue("nobody", {})

    async def handler(payload: dict[str, Any]) -> None: ...

    app.queue.register("known", handler)
    with pytest.raises(ValueError, match="JSON"):
        await app.queue.enqueue("known", {"when": object()})


async def test_finished_jobs_are_pruned(app: App) -> None:
    async def handler(payload: dict[str, Any]) -> None: ...

    app.queue.register("old", handler)
    job_id = await app.queue.enqueue("old", {})
    await settled(app, job_id)
    assert await app.queue.prune() == 0
    app.queue.keep_done = -1
    assert await app.queue.prune() == 1
    assert await app.queue.get(job_id) is None


async def test_jobs_survive_a_restart_and_a_dead_worker_lease(tmp_path: Path) -> None:
    async def never(payload: dict[str, Any]) -> None: ...

    offline = App(Config(data_dir=tmp_path))  # bootstrapped, not serving: no worker runs
    await offline.bootstrap()
    offline.queue.register("mail", never)
    waiting = await offline.queue.enqueue("mail", {"to": "a"})
    held = await offline.queue.enqueue("mail", {"to": "b"})
    # what a process killed in the middle of a run leaves: running, leased, lease now over
    await offline.db.fetch_value("SELECT 1")
    async with offline.db.transaction() as conn:
        await conn.execute(
            'UPDATE "_jobs" SET "status" = \'running\', "attempts" = 1, "lockedBy" = \'dead\', "lockedUntil" = :t WHERE "id" = :id',
            {"t": int(time.time() * 1000) - 1, "id": held},
        )
    await offline.close()

    sent: list[str] = []

    async def send(payload: dict[str, Any]) -> None:
        sent.append(payload["to"])

    async with started(tmp_path, {}) as app:
        app.queue.register("mail", send)
        first, second = await settled(app, waiting), await settled(app, held)
    assert sorted(sent) == ["a", "b"]
    assert (first["attempts"], second["attempts"]) == (1, 2)


async def test_two_instances_on_one_postgres_database_never_run_a_job_twice(tmp_path: Path) -> None:
    runs: list[tuple[str, int]] = []

    def worker(name: str) -> Any:
        async def handler(payload: dict[str, Any]) -> None:
            runs.append((name, payload["n"]))
            await asyncio.sleep(0.005)

        return handler

    async with (
        database_for("postgres") as database,
        started(tmp_path / "a", database) as a,
        started(tmp_path / "b", database) as b,
    ):
        a.queue.register("count", worker("a"))
        b.queue.register("count", worker("b"))
        ids = [await (a if n % 2 else b).queue.enqueue("count", {"n": n}) for n in range(60)]
        jobs = [await settled(a, job_id) for job_id in ids]
    assert {job["status"] for job in jobs} == {"done"}
    assert {job["attempts"] for job in jobs} == {1}
    assert sorted(n for _, n in runs) == list(range(60))


_KILLED_WORKER = """
import asyncio, sys
from pathlib import Path
from roost.config import Config
from roost.core.app import App

async def main(data_dir):
    app = App(Config(data_dir=data_dir))
    await app.bootstrap()
    app.queue.lease_margin = 0.2

    async def hang(payload):
        Path(data_dir, "started").write_text(payload["n"])
        await asyncio.Event().wait()

    app.queue.register("hang", hang, timeout=0.5)
    await app.queue.enqueue("hang", {"n": "one"})
    app.jobs.start()
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1]))
"""


async def test_a_job_held_by_a_killed_process_runs_again_after_its_lease(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILLED_WORKER, str(tmp_path))
    try:
        for _ in range(3000):
            if (tmp_path / "started").exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.01)
        assert (tmp_path / "started").read_text() == "one"
    finally:
        proc.kill()
        await proc.wait()
    ran: list[str] = []

    async def finish(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    async with started(tmp_path, {}) as app:
        app.queue.register("hang", finish, timeout=0.5)
        [row] = await app.db.fetch_all('SELECT "id" FROM "_jobs"')
        job = await settled(app, row["id"])
    assert ran == ["one"]
    assert (job["status"], job["attempts"]) == ("done", 2)
