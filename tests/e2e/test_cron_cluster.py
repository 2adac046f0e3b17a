"""A cron job runs once per tick across three ``roost serve`` instances sharing PostgreSQL and Redis.

Each instance is a program built on ``Roost(plugins=[...])`` whose plugin adds a ``* * * * *``
job that stores a record naming the minute and the instance. After the first minute boundary that
every instance meets knowing the collection, that minute must hold exactly one record.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import PG_URL, skip_or_fail
from tests.e2e.pairs import REDIS_URL, _redis_reachable
from tests.e2e.servers import _subprocess_env, free_port

PROGRAM = """
import os
import sys
import time

from roost import Plugin, Roost
from roost.core.records.save import save_new


class Ticker(Plugin):
    def register(self, app):
        async def tick():
            minute = int(time.time() // 60)
            await save_new(app, app.collections.get("ticks"), {"minute": minute, "instance": os.environ["TICKER"]})

        app.cron.add("ticker", "* * * * *", tick)


Roost(plugins=[Ticker()]).cli(sys.argv[1:])
"""
EMAIL, PASSWORD = "cron@roost.test", "Sup3rSecret!pw"
INSTANCES = ("a", "b", "c")


async def _admin(sql: str, database: str = "") -> None:
    import asyncpg

    conn = await asyncpg.connect(_with_database(PG_URL, database) if database else PG_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database (with a schema of its own, which also names the broker channels)."""
    if not _redis_reachable():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    name = "cron_" + secrets.token_hex(6)
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server is a missing service
        skip_or_fail(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    asyncio.run(_admin(f'CREATE SCHEMA "{name}"', name))
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} never became healthy:\n{log.read_text()[-3000:]}")


def test_a_cron_job_runs_once_per_tick_across_three_instances(tmp_path: Path, database: str) -> None:
    program = tmp_path / "ticker.py"
    program.write_text(PROGRAM)
    env = _subprocess_env() | {
        "ROOST_DB_URL": _with_database(PG_URL, database),
        "ROOST_DB_SCHEMA": database,
        "ROOST_REDIS_URL": REDIS_URL,
    }
    # the superuser command bootstraps the database once, before the instances race for it
    subprocess.run([sys.executable, str(program), "superuser", "upsert", EMAIL, PASSWORD, "--dir", str(tmp_path / "a")],
                   env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
    processes: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for name in INSTANCES:
            port, log = free_port(), tmp_path / f"{name}.log"
            with log.open("wb") as out:
                command = [sys.executable, str(program), "serve", "--http", f"127.0.0.1:{port}", "--dir", str(tmp_path / name)]
                process = subprocess.Popen(command, env=env | {"TICKER": name}, stdout=out, stderr=subprocess.STDOUT)
            processes.append((process, f"http://127.0.0.1:{port}", log))
        for process, base_url, log in processes:
            _wait_healthy(base_url, process, log)
        base_url = processes[0][1]
        token = httpx.post(f"{base_url}/api/collections/_superusers/auth-with-password",
                           json={"identity": EMAIL, "password": PASSWORD}).json()["token"]  # fmt: skip
        created = httpx.post(f"{base_url}/api/collections", headers={"Authorization": token}, json={
            "name": "ticks", "fields": [{"name": "minute", "type": "number"}, {"name": "instance", "type": "text"}],
        })  # fmt: skip
        assert created.status_code == 200, created.text
        # count the first boundary that every instance meets knowing the new collection
        counted = (int((time.time() + 5) // 60) + 1,)
        _wait_for_minutes(base_url, token, counted)
        time.sleep(2)  # a duplicate run would have landed by now
        minutes = _minutes(base_url, token)
    finally:
        for process, _, _ in processes:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in processes:
            process.wait(timeout=30)
    per_minute = Counter(minute for minute, _ in minutes)
    assert [per_minute[minute] for minute in counted] == [1], minutes
    assert set(per_minute.values()) == {1}, minutes  # no minute ran twice, counted or not


def _minutes(base_url: str, token: str) -> list[tuple[int, str]]:
    res = httpx.get(f"{base_url}/api/collections/ticks/records", headers={"Authorization": token},
                    params={"perPage": 500, "sort": "minute"})  # fmt: skip
    assert res.status_code == 200, res.text
    return [(int(item["minute"]), item["instance"]) for item in res.json()["items"]]


def _wait_for_minutes(base_url: str, token: str, wanted: tuple[int, ...]) -> list[tuple[int, str]]:
    deadline = wanted[-1] * 60 + 30
    while time.time() < deadline:
        minutes = _minutes(base_url, token)
        if set(wanted) <= {minute for minute, _ in minutes}:
            return minutes
        time.sleep(1)
    raise AssertionError(f"no record for every minute of {wanted}: {_minutes(base_url, token)}")
