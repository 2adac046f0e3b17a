#!/usr/bin/env python3
"""GraphQL list with relations vs the REST list with ``expand``, on one Roost, in one run.

One ``roost serve`` (SQLite), a ``users`` auth collection and ``posts`` with an ``author``
relation, ``--posts`` posts by ``--users`` users. Both requests ask for the same page (30 posts,
each with its author) and are checked to hold the same records first; then wrk measures them in
alternating rounds (REST, GraphQL, REST, GraphQL ...). Usage::

    .venv/bin/python bench/graphql/run.py [--seconds 5] [--rounds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run as harness  # bench/run.py: servers and wrk

QUERY = "{ postsList(sort: \"-n\", perPage: 30) { totalItems items { id title n author { id name } } } }"
REST = "/api/collections/posts/records?sort=-n&perPage=30&expand=author&fields=id,title,n,expand.author.id,expand.author.name,totalItems"


def seed(srv: harness.Server, users: int, posts: int) -> None:
    t = srv.su_token
    harness.must(srv.base, "PATCH", "/api/settings", {"batch": {"enabled": True, "maxRequests": 1000}, "rateLimits": {"enabled": False}}, t)
    harness.must(srv.base, "PATCH", "/api/collections/users", {"listRule": "", "viewRule": ""}, t)
    users_id = harness.must(srv.base, "GET", "/api/collections/users", None, t)["id"]
    harness.must(srv.base, "POST", "/api/collections", {"name": "posts", "listRule": "", "viewRule": "", "fields": [
        {"name": "title", "type": "text"}, {"name": "n", "type": "number"},
        {"name": "author", "type": "relation", "collectionId": users_id, "maxSelect": 1}]}, t)  # fmt: skip
    ids = []
    for i in range(users):
        body = {"email": f"u{i}@bench.local", "password": "password123", "passwordConfirm": "password123", "name": f"user {i}"}
        ids.append(harness.must(srv.base, "POST", "/api/collections/users/records", body, t)["id"])
    for start in range(0, posts, 500):
        requests = [{"method": "POST", "url": "/api/collections/posts/records",
                     "body": {"title": f"post {i}", "n": i, "author": ids[i % users]}}
                    for i in range(start, min(posts, start + 500))]  # fmt: skip
        harness.must(srv.base, "POST", "/api/batch", {"requests": requests}, t)


def same_page(srv: harness.Server) -> None:
    rest = harness.must(srv.base, "GET", REST)
    graphql = harness.must(srv.base, "POST", "/api/graphql", {"query": QUERY})["data"]["postsList"]
    flat = [{"id": r["id"], "title": r["title"], "n": r["n"], "author": r["expand"]["author"]} for r in rest["items"]]
    assert flat == graphql["items"], "the GraphQL page differs from the REST page"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--posts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roost-bench-graphql-") as tmp:
        srv = harness.Server("roost", harness.find_binary("roost"), Path(tmp))
        srv.upsert_superuser()
        srv.start()
        try:
            srv.login_superuser()
            seed(srv, args.users, args.posts)
            same_page(srv)
            scripts = {
                "REST list + expand": (Path(tmp) / "rest.lua", harness.Request("GET", REST), REST),
                "GraphQL list + relation": (Path(tmp) / "graphql.lua", harness.Request("POST", "/api/graphql", {"query": QUERY}), "/api/graphql"),
            }
            for path, request, _ in scripts.values():
                path.write_text(harness.wrk_script(request))
            results: dict[str, list[dict[str, object]]] = {name: [] for name in scripts}
            for _ in range(args.rounds):
                for name, (path, _, url) in scripts.items():
                    res = harness.run_wrk(srv, path, url, args.seconds, 1, args.connections, "10s")
                    assert res["ok"], res
                    results[name].append(res)
        finally:
            srv.stop()
    summary = {
        name: {"rps": round(statistics.median(float(r["rps"]) for r in runs)),  # type: ignore[arg-type]
               "p50_ms": statistics.median(r["latency_us"]["p50"] for r in runs) / 1000,  # type: ignore[index]
               "server_cpu_ms_per_req": statistics.median(float(r["server_cpu_ms_per_req"]) for r in runs)}  # type: ignore[arg-type]
        for name, runs in results.items()
    }  # fmt: skip
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
