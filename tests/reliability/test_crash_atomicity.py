"""R4 under crash: ``n+`` increments and batches stay exact while the server is SIGKILLed.

Clients send ``{"n+": 1}`` PATCHes to one counter record and batches (K creates plus one
``batches+`` increment on the same counter, all-or-nothing) while a nemesis SIGKILLs the whole
server, and on ``--workers 2`` sometimes a single worker, then brings it back. A request whose
answer was lost may or may not have committed, so the counter must end between what was
acknowledged and what was sent; every batch is whole or absent, every acknowledged batch is
whole, and the ``batches`` counter equals the number of whole batches. Small fixed-seed counts in
CI; ``pytest --long`` runs the release-gate counts.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import long_run
from tests.reliability.procs import BACKENDS, RoostProcess, backend_server

LONG = long_run()
CLIENTS = 6
KILLS = 10 if LONG else 3
OPS_BETWEEN_KILLS = 600 if LONG else 60
BATCH_SHARE = 0.4  # of each client's requests; the rest are single increments
MAX_K = 6
SEED = 20240914
RETRY_PAUSE = 0.05
COUNTER = "/api/collections/counters/records"
ITEMS = "/api/collections/items/records"


@dataclass
class History:
    """What the clients sent and what they were told, per kind of request."""

    increments_sent: int = 0
    increments_acked: int = 0
    batch_size: dict[str, int] = field(default_factory=dict)  # every batch sent
    batches_acked: set[str] = field(default_factory=set)
    batches_refused: set[str] = field(
        default_factory=set
    )  # never connected, or a 4xx: must be absent
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def acked(self) -> int:
        return self.increments_acked + len(self.batches_acked)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoostProcess]:
    with backend_server(request.param, tmp_path) as proc:
        yield proc


def _setup(proc: RoostProcess) -> str:
    """The two collections, batches on, and the counter record; returns its id."""
    su = {"Authorization": proc.superuser_token()}
    counters = {"name": "counters", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
                "fields": [{"name": "n", "type": "number"}, {"name": "batches", "type": "number"}]}  # fmt: skip
    items = {"name": "items", "listRule": "", "viewRule": "", "createRule": "",
             "fields": [{"name": "b", "type": "text", "required": True}, {"name": "i", "type": "number"}]}  # fmt: skip
    with httpx.Client(base_url=proc.base_url, timeout=30.0, headers=su) as http:
        for body in (counters, items):
            assert (res := http.post("/api/collections", json=body)).status_code == 200, res.text
        settings = {"batch": {"enabled": True, "maxRequests": MAX_K + 1}}
        assert (res := http.patch("/api/settings", json=settings)).status_code == 200, res.text
        res = http.post(COUNTER, json={"n": 0, "batches": 0})
        assert res.status_code == 200, res.text
        return str(res.json()["id"])


def _batch_body(counter: str, batch: str, k: int) -> dict[str, Any]:
    creates = [{"method": "POST", "url": ITEMS, "body": {"b": batch, "i": i}} for i in range(k)]
    bump = {"method": "PATCH", "url": f"{COUNTER}/{counter}", "body": {"batches+": 1}}
    return {"requests": [*creates, bump]}


async def _client(
    n: int, proc: RoostProcess, counter: str, history: History, stop: asyncio.Event
) -> None:
    rng = random.Random(SEED + n)
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=10.0) as http:
        sent = 0
        while not stop.is_set():
            sent += 1
            batch = f"c{n}-{sent}" if rng.random() < BATCH_SHARE else ""
            if batch:
                history.batch_size[batch] = k = rng.randint(1, MAX_K)
                request = http.post("/api/batch", json=_batch_body(counter, batch, k))
            else:
                history.increments_sent += 1
                request = http.patch(f"{COUNTER}/{counter}", json={"n+": 1})
            try:
                res = await request
            except httpx.ConnectError:  # nothing reached the server (it is down or restarting)
                history.outcomes["not connected"] += 1
                if batch:
                    history.batches_refused.add(batch)
                else:
                    history.increments_sent -= 1
                await asyncio.sleep(RETRY_PAUSE)
                continue
            except httpx.HTTPError as exc:  # the answer was lost: committed or not, unknown
                history.outcomes[type(exc).__name__] += 1
                await asyncio.sleep(RETRY_PAUSE)
                continue
            history.outcomes[str(res.status_code)] += 1
            if res.status_code == 200:
                if batch:
                    history.batches_acked.add(batch)
                else:
                    history.increments_acked += 1
            elif res.status_code >= 500:  # a worker that died after its commit: unknown as well
                await asyncio.sleep(RETRY_PAUSE)
            elif batch:
                history.batches_refused.add(batch)


async def _nemesis(proc: RoostProcess, history: History) -> None:
    workers = "--workers" in proc.extra
    for round_ in range(KILLS):
        target = history.acked + OPS_BETWEEN_KILLS
        while history.acked < target:
            await asyncio.sleep(0.02)
        if workers and round_ % 2:
            pids = proc.worker_pids()
            assert pids, proc.log_tail()
            os.kill(pids[0], signal.SIGKILL)  # the master starts a new worker in its place
        else:
            proc.kill9()
            await asyncio.to_thread(proc.start)
    target = history.acked + OPS_BETWEEN_KILLS // 2
    while history.acked < target:
        await asyncio.sleep(0.02)


async def _stored(proc: RoostProcess, counter: str) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The counter record, and the item indexes stored under each batch id."""
    token = await asyncio.to_thread(proc.superuser_token)
    batches: dict[str, list[int]] = {}
    async with httpx.AsyncClient(
        base_url=proc.base_url, timeout=30.0, headers={"Authorization": token}
    ) as http:
        record = (await http.get(f"{COUNTER}/{counter}")).json()
        page = 1
        while True:
            params = {"page": page, "perPage": 500, "fields": "b,i", "sort": "id"}
            res = await http.get(ITEMS, params=params)
            assert res.status_code == 200, res.text
            for item in res.json()["items"]:
                batches.setdefault(item["b"], []).append(int(item["i"]))
            if page >= res.json()["totalPages"]:
                return record, batches
            page += 1


async def test_counters_and_batches_stay_exact_under_sigkill(server: RoostProcess) -> None:
    counter = await asyncio.to_thread(_setup, server)
    history, stop = History(), asyncio.Event()
    clients = [
        asyncio.create_task(_client(n, server, counter, history, stop)) for n in range(CLIENTS)
    ]
    try:
        await asyncio.wait_for(_nemesis(server, history), timeout=600)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    record, stored = await _stored(server, counter)
    summary = f"{history.outcomes}, {history.increments_acked} increments and {len(history.batches_acked)} batches acknowledged"

    assert history.acked >= KILLS * OPS_BETWEEN_KILLS, summary
    assert history.increments_acked <= record["n"] <= history.increments_sent, (record, summary)
    partial = {
        b: sorted(idx)
        for b, idx in stored.items()
        if sorted(idx) != list(range(history.batch_size.get(b, -1)))
    }
    assert not partial, (
        f"batches stored in part, twice or never sent: {dict(list(partial.items())[:5])}"
    )
    missing = history.batches_acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged batches lost: {sorted(missing)[:10]}"
    refused = history.batches_refused & stored.keys()
    assert not refused, f"refused batches stored: {sorted(refused)[:10]}"
    # the increment inside each batch commits with its creates or not at all
    assert record["batches"] == len(stored), (record, len(stored), summary)
    unknown = len(history.batch_size) - len(history.batches_acked) - len(history.batches_refused)
    print(
        f"n={record['n']}: {history.increments_acked} acknowledged of {history.increments_sent} sent; "
        f"{len(stored)} whole batches: {len(history.batches_acked)} acknowledged, {unknown} unknown; "
        f"{history.outcomes}"
    )
