#!/usr/bin/env python3
"""Deep-page latency: ``?page=`` (OFFSET) vs ``?cursor=`` (keyset) on the same rows.

    .venv/bin/python bench/scale/deep_pages.py                       # 100k rows, page 2,000 of 50
    .venv/bin/python bench/scale/deep_pages.py --rows 20000 --backends sqlite

For each backend (SQLite file, PostgreSQL schema, MySQL database, whichever are reachable) it
creates a ``deep`` collection with an index on ``created``, bulk-inserts the rows with SQL, and
times the same page through the in-process HTTP stack (httpx ASGI transport, so no socket
noise): the page at ``--page`` by offset, and the same page by cursor (the cursor is reached by
walking with 1,000-record pages first). Prints the median of ``--repeat`` requests each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from roost.apis import build_asgi  # noqa: E402
from roost.config import Config  # noqa: E402
from roost.core.app import App  # noqa: E402
from roost.core.superusers import manage_superuser  # noqa: E402

PG_URL = os.environ.get("ROOST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("ROOST_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
SORTS = {"default (insertion)": "", "-created (indexed)": "-created"}


async def _config(backend: str, tmp: Path) -> tuple[Config, Any]:
    if backend == "sqlite":
        return Config(data_dir=tmp), None
    if backend == "postgres":
        import asyncpg

        schema = "deep_" + secrets.token_hex(4)
        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        return Config(data_dir=tmp, db_url=PG_URL, db_schema=schema), ("postgres", schema)
    import asyncmy

    name = "deep_" + secrets.token_hex(4)
    conn = await asyncmy.connect(host="127.0.0.1", user="root")
    async with conn.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    conn.close()
    return Config(data_dir=tmp, db_url=MYSQL_URL.rsplit("/", 1)[0] + "/" + name), ("mysql", name)


async def _drop(created: Any) -> None:
    if created is None:
        return
    kind, name = created
    if kind == "postgres":
        import asyncpg

        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await conn.close()
        return
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", user="root")
    async with conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE `{name}`")
    conn.close()


async def _fill(app: App, client: httpx.AsyncClient, token: str, rows: int) -> None:
    res = await client.post("/api/collections", headers={"Authorization": token}, json={
        "name": "deep", "listRule": "",
        "fields": [{"name": "title", "type": "text"}, {"name": "n", "type": "number"},
                   {"name": "created", "type": "autodate", "onCreate": True}],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    chunk = 5000
    for start in range(0, rows, chunk):
        values = [{"id": f"{i:015d}", "title": f"row {i}", "n": float(i % 97),
                   "created": f"2026-01-01 00:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"}
                  for i in range(start, min(rows, start + chunk))]  # fmt: skip
        async with app.db.transaction() as conn:
            await conn.execute('INSERT INTO "deep" ("id", "title", "n", "created") VALUES (:id, :title, :n, :created)', values)
    async with app.db.transaction() as conn:  # plain DDL: the planner needs the index, Roost does not
        await conn.execute_ddl('CREATE INDEX "idx_deep_created" ON "deep" ("created")')


async def _median_ms(client: httpx.AsyncClient, params: dict[str, Any], repeat: int) -> float:
    await client.get("/api/collections/deep/records", params=params)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        res = await client.get("/api/collections/deep/records", params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert res.status_code == 200, res.text
    return statistics.median(times)


async def _cursor_at(client: httpx.AsyncClient, sort: str, position: int) -> str:
    cursor = ""
    while position > 0:
        step = min(1000, position)
        res = await client.get("/api/collections/deep/records",
                               params={"cursor": cursor, "sort": sort, "perPage": step, "fields": "id"})
        cursor = res.json()["nextCursor"]
        position -= step
    return cursor


async def bench_backend(backend: str, args: argparse.Namespace) -> list[str]:
    config, created = await _config(backend, Path(tempfile.mkdtemp(prefix="roost-deep-")))
    app = App(config)
    lines = []
    try:
        await app.bootstrap()
        await manage_superuser(app, "upsert", "su@example.com", "password123")
        transport = httpx.ASGITransport(app=build_asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://roost.test", timeout=120) as client:
            login = await client.post("/api/collections/_superusers/auth-with-password",
                                      json={"identity": "su@example.com", "password": "password123"})
            started = time.perf_counter()
            await _fill(app, client, login.json()["token"], args.rows)
            print(f"{backend}: {args.rows} rows inserted in {time.perf_counter() - started:.1f} s", flush=True)
            for label, sort in SORTS.items():
                offset = {"page": args.page, "perPage": args.per_page, "sort": sort, "skipTotal": 1}
                cursor = await _cursor_at(client, sort, (args.page - 1) * args.per_page)
                keyset = {"cursor": cursor, "perPage": args.per_page, "sort": sort}
                first = {"page": 1, "perPage": args.per_page, "sort": sort, "skipTotal": 1}
                times = [await _median_ms(client, p, args.repeat) for p in (first, offset, keyset)]
                lines.append(f"| {backend} | {label} | {times[0]:.1f} | {times[1]:.1f} | {times[2]:.1f} |")
                print(lines[-1], flush=True)
    finally:
        await app.close()
        await _drop(created)
    return lines


async def main_async(args: argparse.Namespace) -> None:
    print(f"load average {os.getloadavg()}; {args.rows} rows, page {args.page} x {args.per_page}, "
          f"median of {args.repeat} (ms)")
    lines = ["| backend | sort | page 1 | offset page | cursor page |", "|---|---|---|---|---|"]
    for backend in args.backends:
        lines += await bench_backend(backend, args)
    print("\n" + "\n".join(lines) + f"\n\nload average at the end {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=2000)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres", "mysql"],
                        choices=["sqlite", "postgres", "mysql"])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
