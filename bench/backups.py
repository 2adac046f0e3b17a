#!/usr/bin/env python3
"""How long a backup and a restore take, per database: N records of a few hundred bytes each.

Creates the records with one bulk insert, then times ``app.backups.create`` (snapshot or dump,
zip, store) and ``app.backups.restore`` (fetch, check, replace, reload) in one process, and
prints the archive size. Needs PostgreSQL and MariaDB as the tests do (skipped when absent).

Run: ``.venv/bin/python bench/backups.py [--records 50000] [--backends sqlite postgres mysql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from roost.testing import make_test_app
from roost.testing.databases import ServiceUnavailable

POSTS = {"name": "posts", "fields": [{"name": "title", "type": "text"}, {"name": "body", "type": "text"},
                                     {"name": "n", "type": "number"}]}  # fmt: skip


async def measure(backend: str, records: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            async with make_test_app(Path(tmp), backend=backend, collections=[POSTS]) as api:
                db, q = api.app.db, api.app.db.quote
                rows = [{"id": f"{i:015d}", "title": f"title {i}", "body": "lorem ipsum " * 20, "n": i} for i in range(records)]
                async with db.transaction() as conn:
                    sql = f"INSERT INTO {q('posts')} ({q('id')}, {q('title')}, {q('body')}, {q('n')}) VALUES (:id, :title, :body, :n)"
                    await conn.execute(sql, rows)
                started = time.perf_counter()
                await api.app.backups.create("bench.zip")
                created = time.perf_counter() - started
                size = (await api.app.backups.entries())[0]["size"]
                started = time.perf_counter()
                await api.app.backups.restore("bench.zip")
                restored = time.perf_counter() - started
                count = await db.fetch_value(f"SELECT COUNT(*) FROM {q('posts')}")
        except ServiceUnavailable as exc:
            return f"| {backend} | skipped: {exc} | | | |"
    assert count == records
    return f"| {backend} | {records:,} | {created:.2f} s | {size / 1e6:.1f} MB | {restored:.2f} s |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres", "mysql"])
    args = parser.parse_args()
    print("| database | records | create | archive | restore |\n|---|---:|---:|---:|---:|")
    for backend in args.backends:
        print(asyncio.run(measure(backend, args.records)))


if __name__ == "__main__":
    main()
