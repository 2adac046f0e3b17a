"""R3: no acknowledged write is lost when the server is killed with SIGKILL.

A set test in the manner of Jepsen: clients add unique values; the nemesis SIGKILLs the server
(or one worker) every few hundred acknowledged writes and brings it back. At the end every
acknowledged value is stored exactly once, and nothing is stored that no client sent.
Counts are small in CI; ``pytest --long`` runs the release-gate counts.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import long_run
from tests.reliability.procs import BACKENDS, RoostProcess, backend_server

LONG = long_run()
CLIENTS = 8
KILLS = 10 if LONG else 3
WRITES_BETWEEN_KILLS = 1500 if LONG else 120
RETRY_PAUSE = 0.05


@dataclass
class History:
    acked: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)  # sent, answer lost: may or may not be stored
    refused: set[str] = field(default_factory=set)  # a definite error answer: must not be stored


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoostProcess]:
    with backend_server(request.param, tmp_path) as proc:
        yield proc


def _create_collection(proc: RoostProcess) -> None:
    body = {
        "name": "items", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "v", "type": "text", "required": True}],
        "indexes": ["CREATE UNIQUE INDEX idx_items_v ON items (v)"],
    }  # fmt: skip
    res = httpx.post(
        f"{proc.base_url}/api/collections",
        json=body,
        headers={"Authorization": proc.superuser_token()},
    )
    assert res.status_code == 200, res.text


async def _client(n: int, proc: RoostProcess, history: History, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=10.0) as http:
        i = 0
        while not stop.is_set():
            value = f"c{n}-{i}"
            i += 1
            try:
                res = await http.post("/api/collections/items/records", json={"v": value})
            except httpx.HTTPError:
                history.unknown.add(value)
                await asyncio.sleep(RETRY_PAUSE)
                continue
            if res.status_code == 200:
                history.acked.add(value)
            elif res.status_code >= 500:
                history.unknown.add(value)  # a 5xx may come from a worker dying after its commit
                await asyncio.sleep(RETRY_PAUSE)
            else:
                history.refused.add(value)


async def _nemesis(proc: RoostProcess, history: History, workers: bool) -> None:
    for _ in range(KILLS):
        target = len(history.acked) + WRITES_BETWEEN_KILLS
        while len(history.acked) < target:
            await asyncio.sleep(0.02)
        if workers:
            pids = proc.worker_pids()
            assert pids, proc.log_tail()
            os.kill(pids[0], signal.SIGKILL)  # the master starts a new worker in its place
        else:
            proc.kill9()
            await asyncio.to_thread(proc.start)
    target = len(history.acked) + WRITES_BETWEEN_KILLS // 2
    while len(history.acked) < target:
        await asyncio.sleep(0.02)


async def _stored_values(proc: RoostProcess) -> list[str]:
    values: list[str] = []
    token = await asyncio.to_thread(proc.superuser_token)
    async with httpx.AsyncClient(
        base_url=proc.base_url, timeout=30.0, headers={"Authorization": token}
    ) as http:
        page = 1
        while True:
            res = await http.get(
                "/api/collections/items/records",
                params={"page": page, "perPage": 500, "fields": "v"},
            )
            assert res.status_code == 200, res.text
            values += [item["v"] for item in res.json()["items"]]
            if page >= res.json()["totalPages"]:
                return values
            page += 1


async def test_no_acknowledged_write_is_lost_under_sigkill(server: RoostProcess) -> None:
    _create_collection(server)
    history, stop = History(), asyncio.Event()
    clients = [asyncio.create_task(_client(n, server, history, stop)) for n in range(CLIENTS)]
    try:
        await asyncio.wait_for(
            _nemesis(server, history, workers="--workers" in server.extra), timeout=600
        )
    finally:
        stop.set()
        await asyncio.gather(*clients)
    stored = await _stored_values(server)
    lost = history.acked - set(stored)
    unexpected = set(stored) - history.acked - history.unknown
    assert len(history.acked) >= KILLS * WRITES_BETWEEN_KILLS
    assert not lost, f"{len(lost)} acknowledged writes lost: {sorted(lost)[:10]}"
    assert not unexpected, (
        f"stored values nobody sent or that were refused: {sorted(unexpected)[:10]}"
    )
    assert len(stored) == len(set(stored)), "duplicates stored"
