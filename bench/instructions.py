#!/usr/bin/env python3
"""Instructions per request of Roost's HTTP stack, counted by valgrind (callgrind).

Timings of a few microseconds scatter by a third on a shared VM; instruction counts do not. Each
measurement runs Roost's ASGI stack in process (as ``bench/edge.py --asgi-only`` does: a
synthetic ``GET``, or a ``POST`` that creates a record, the request-log rows written inside the
count, JSON request lines into a buffer as under ``roost serve``) under ``valgrind --tool=callgrind`` twice, with ``--lo`` and
``--hi`` requests after the same start-up, and reports the difference over ``hi - lo``: the
start-up, the warm-up and the shutdown cancel out.

    python bench/instructions.py                      # health and view, this tree (~3 min)
    python bench/instructions.py --paths create       # a guest's record create
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
from typing import Any

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def _edge() -> Any:
    """``bench/edge.py`` as a module (its variants and its request driver)."""
    spec = importlib.util.spec_from_file_location("bench_edge", HERE / "edge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_edge"] = module
    spec.loader.exec_module(module)
    return module


async def drive(path_label: str, n: int, variant: str) -> None:
    """Start a Roost with the posts collection and a record, then send ``n`` requests."""
    from roost.tools.structured_logs import configure

    edge: Any = _edge()
    work = Path(tempfile.mkdtemp(prefix="roost-instructions-"))
    server, record_id = await edge.seeded_roost(work)
    try:
        configure("json", "info", stream=io.StringIO())
        asgi = server.asgi  # the whole stack (also what a baseline tree of another layout serves)
        if variant != "whole stack":
            variants = edge._variants(await server.asgi.start())
            if variant not in variants:
                raise SystemExit(f"unknown variant {variant!r}; one of {sorted(variants)}")
            asgi = variants[variant]
        body = b""
        if path_label == "health":
            path = "/api/health"
        elif path_label == "create":  # a guest's create (the bench's posts allow it)
            path, body = "/api/collections/posts/records", b'{"title": "Benchmark post", "views": 42}'
        else:
            path = f"/api/collections/posts/records/{record_id}"
        await edge._drive(asgi, path, n, server.app.logs.flush, body)
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
    ap.add_argument("--paths", default="health,view", help="health, view and/or create (default health,view)")
    ap.add_argument("--variant", default="whole stack", help="a variant of bench/edge.py (default: the whole stack)")
    ap.add_argument("--lo", type=int, default=300, help="requests in the short run (default 300)")
    ap.add_argument("--hi", type=int, default=1300, help="requests in the long run (default 1300)")
    ap.add_argument("--baseline", default="", metavar="SRC", help="another Roost source tree, counted the same way")
    ap.add_argument("--drive", nargs=3, metavar=("PATH", "N", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not 0 < args.lo < args.hi:
        ap.error("--lo must be positive and below --hi")
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
            # each run also sends min(n, 200) warm-up requests (bench/edge.py's driver)
            sent = (args.hi + min(args.hi, 200)) - (args.lo + min(args.lo, 200))
            print(f"| {path_label} | {build} | {(hi - lo) / sent:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
