#!/usr/bin/env python3
"""Instructions per request of Roost's HTTP stack, counted by valgrind (callgrind).

Timings of a few microseconds scatter by a third on a shared VM; instruction counts do not. Each
measurement runs Roost's ASGI stack in process (as ``bench/edge.py --asgi-only`` does: a
synthetic ``GET``, the request-log rows written inside the count, JSON request lines into a
buffer as under ``roost serve``) under ``valgrind --tool=callgrind`` twice, with ``--lo`` and
``--hi`` requests after the same start-up, and reports the difference over ``hi - lo``: the
start-up, the warm-up and the shutdown cancel out.

    python bench/instructions.py                      # health and view, this tree (~3 min)
    python bench/instructions.py --baseline /tmp/base # and another source tree, for a before/after
    python bench/instructions.py --variant "without metrics" --paths health

The figure counts every thread of the process (the request-log writer included), in one
process: it measures Roost's own Python, not the server's socket work. Needs Debian's valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def _edge() -> object:
    """``bench/edge.py`` as a module (its variants and its request driver)."""
    spec = importlib.util.spec_from_file_location("bench_edge", HERE / "edge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_edge"] = module
    spec.loader.exec_module(module)
    return module


async def drive(path_label: str, n: int, variant: str) -> None:
    """Start a Roost, make the posts collection and a record, then send ``n`` requests."""
    import httpx

    from roost.app import Roost
    from roost.config import Config
    from roost.core.superusers import manage_superuser
    from roost.tools.structured_logs import configure

    edge: object = _edge()
    su_email, su_password, posts = edge.SU_EMAIL, edge.SU_PASSWORD, edge.POSTS  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="roost-instructions-"))
    server = Roost(Config(data_dir=work / "data"))
    await server.start()
    try:
        await manage_superuser(server.app, "upsert", su_email, su_password)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://x") as c:
            login = await c.post("/api/collections/_superusers/auth-with-password", json={"identity": su_email, "password": su_password})
            auth = {"Authorization": login.json()["token"]}
            (await c.post("/api/collections", json=posts, headers=auth)).raise_for_status()
            record = (await c.post("/api/collections/posts/records", json={"title": "hello", "views": 3}, headers=auth)).json()
        configure("json", "info", stream=io.StringIO())
        asgi = server.asgi  # the whole stack (also what a baseline tree of another layout serves)
        if variant != "whole stack":
            variants = edge._variants(await server.asgi.start())  # type: ignore[attr-defined]
            if variant not in variants:
                raise SystemExit(f"unknown variant {variant!r}; one of {sorted(variants)}")
            asgi = variants[variant]
        path = "/api/health" if path_label == "health" else f"/api/collections/posts/records/{record['id']}"
        await edge._drive(asgi, path, n, server.app.logs.flush)  # type: ignore[attr-defined]
    finally:
        await server.stop()
        shutil.rmtree(work, ignore_errors=True)


def count(python: str, path_label: str, n: int, variant: str, source: str) -> int:
    """Instructions callgrind counted for one whole run with ``n`` requests."""
    env = {**os.environ, "PYTHONPATH": source} if source else None
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, __file__,
         "--drive", path_label, str(n), variant],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    found = _COLLECTED.search(out.stderr)
    if out.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({out.returncode}): {out.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--paths", default="health,view", help="health and/or view (default both)")
    ap.add_argument("--variant", default="whole stack", help="a variant of bench/edge.py (default: the whole stack)")
    ap.add_argument("--lo", type=int, default=300, help="requests in the short run (default 300)")
    ap.add_argument("--hi", type=int, default=1300, help="requests in the long run (default 1300)")
    ap.add_argument("--baseline", default="", metavar="SRC", help="another Roost source tree, counted the same way")
    ap.add_argument("--drive", nargs=3, metavar=("PATH", "N", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.drive:
        asyncio.run(drive(args.drive[0], int(args.drive[1]), args.drive[2]))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    builds = [("this tree", "")] + ([("baseline", args.baseline)] if args.baseline else [])
    print("| path | build | instructions/request |")
    print("|---|---|---:|")
    for path_label in args.paths.split(","):
        for build, source in builds:
            lo = count(sys.executable, path_label, args.lo, args.variant, source)
            hi = count(sys.executable, path_label, args.hi, args.variant, source)
            print(f"| {path_label} | {build} | {(hi - lo) / (args.hi - args.lo):,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
