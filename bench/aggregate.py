#!/usr/bin/env python3
"""Aggregations and full-text search on the server versus the same work done client-side.

Seeds N ``sales`` records (one bulk insert; the search index fills itself as it does for any
write), then in one run, per database, times:

* ``GET /api/collections/sales/aggregate?groupBy=region,sold:month&fields=count,sum(total),avg(total)``
  against fetching every record with list requests (``perPage=1000&skipTotal=1&fields=...``, as the
  SDK's ``getFullList`` does) and grouping in Python;
* ``GET /api/collections/sales/records?search=<word>`` (first ranked page plus the total) against
  fetching every record's text and matching the word prefixes in Python.

Both sides go through the in-process HTTP client, so the figures compare the work, not a network.
Each result is checked against the other before the times are printed.

Run: ``.venv/bin/python bench/aggregate.py [--records 100000] [--backends sqlite postgres mysql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from roost.testing import make_test_app
from roost.testing.databases import ServiceUnavailable

SALES = {"name": "sales", "listRule": "", "search": {"fields": ["title", "body"]}, "fields": [
    {"name": "title", "type": "text"}, {"name": "body", "type": "text"}, {"name": "region", "type": "text"},
    {"name": "total", "type": "number"}, {"name": "sold", "type": "date"}]}  # fmt: skip
REGIONS = ["north", "south", "east", "west", "central"]
WORDS = [f"w{n:03d}x" for n in range(1000)]
AGG = "/api/collections/sales/aggregate?groupBy=region,sold:month&fields=count,sum(total),avg(total)&perPage=1000"
LIST = "/api/collections/sales/records"
TERM = "w042x"


def rows(count: int) -> list[dict[str, Any]]:
    rnd = random.Random(7)
    out = []
    for i in range(count):
        day = rnd.randrange(365)
        out.append({
            "id": f"{i:015d}", "title": " ".join(rnd.choices(WORDS, k=3)), "body": " ".join(rnd.choices(WORDS, k=20)),
            "region": rnd.choice(REGIONS), "total": rnd.randrange(1, 100_000) / 100,
            "sold": f"2024-{1 + day // 31 % 12:02d}-{1 + day % 28:02d} {rnd.randrange(24):02d}:00:00.000Z",
        })  # fmt: skip
    return out


async def fetch_all(api: Any, fields: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        res = await api.call("GET", LIST, params={"page": page, "perPage": 1000, "skipTotal": 1, "fields": fields})
        batch = res.json()["items"]
        items += batch
        if len(batch) < 1000:
            return items
        page += 1


def group_locally(items: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, float]]:
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for item in items:
        key = (item["region"], item["sold"][:7] + "-01 00:00:00.000Z")
        sums[key][0] += 1
        sums[key][1] += item["total"]
    return {k: (int(v[0]), round(v[1], 2)) for k, v in sums.items()}


def search_locally(items: list[dict[str, Any]], term: str) -> list[str]:
    word = re.compile(r"\b" + re.escape(term), re.IGNORECASE)
    hits = [(len(word.findall(i["title"] + " " + i["body"])), i["id"]) for i in items]
    return [i for n, i in sorted((h for h in hits if h[0]), key=lambda h: -h[0])]


async def timed(step: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await step
    return time.perf_counter() - started, result


async def measure(backend: str, records: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            async with make_test_app(Path(tmp), backend=backend, collections=[SALES]) as api:
                db, q = api.app.db, api.app.db.quote
                data = rows(records)
                cols = ["id", "title", "body", "region", "total", "sold"]
                sql = f"INSERT INTO {q('sales')} ({', '.join(map(q, cols))}) VALUES ({', '.join(':' + c for c in cols)})"
                for start in range(0, records, 10_000):
                    async with db.transaction() as conn:
                        await conn.execute(sql, data[start:start + 10_000])
                await api.call("GET", AGG)  # warm the caches of the database, as a running server has them
                server_agg, res = await timed(api.call("GET", AGG))
                groups = {(g["region"], g["sold:month"]): (g["count"], round(g["sum(total)"], 2)) for g in res.json()["items"]}
                client_agg, items = await timed(fetch_all(api, "region,sold,total"))
                started = time.perf_counter()
                assert group_locally(items) == groups, "the two aggregations disagree"
                client_agg += time.perf_counter() - started
                server_search, res = await timed(api.call("GET", LIST, params={"search": TERM, "perPage": 30}))
                found = res.json()
                client_search, items = await timed(fetch_all(api, "id,title,body"))
                started = time.perf_counter()
                local = search_locally(items, TERM)
                client_search += time.perf_counter() - started
                assert len(local) == found["totalItems"], (len(local), found["totalItems"])
        except ServiceUnavailable as exc:
            return [f"| {backend} | skipped: {exc} | | | |"]
    return [
        f"| {backend} | aggregate ({len(groups)} groups) | {server_agg * 1000:,.0f} ms | {client_agg * 1000:,.0f} ms | {client_agg / server_agg:,.1f}x |",
        f"| {backend} | search ({found['totalItems']:,} hits, first page) | {server_search * 1000:,.0f} ms "
        f"| {client_search * 1000:,.0f} ms | {client_search / server_search:,.1f}x |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres", "mysql"])
    args = parser.parse_args()
    print(f"{args.records:,} records\n")
    print("| database | work | server | client-side with list requests | ratio |\n|---|---|---:|---:|---:|")
    for backend in args.backends:
        for line in asyncio.run(measure(backend, args.records)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
