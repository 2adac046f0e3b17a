#!/usr/bin/env python3
"""Scaling bench: one Roost instance vs two behind nginx, on the same PostgreSQL data, in one run.

    .venv/bin/python bench/scale/run.py                      # 10 s rounds, 2 alternating rounds
    .venv/bin/python bench/scale/run.py --duration 5 --rounds 1 --no-pocketbase

It starts two ``roost serve`` instances on one fresh PostgreSQL schema + Redis with
``deploy/local/cluster.py`` (nginx in front), a second nginx in front of instance 0 alone, and
PocketBase (SQLite) seeded with the same records as a baseline. For each scenario it measures, in
alternating rounds with wrk: instance 0 directly, instance 0 behind nginx, both instances behind
nginx, and PocketBase. It prints requests/s, the ratio, the scaling efficiency
``rps_2 / (2 x rps_1)`` and where the CPU went during each round (Roost processes, nginx,
PostgreSQL backends of the bench database, everything else on the machine including wrk and other
tenants), with the load average next to each figure. Results go to
``bench/results/scale-<timestamp>.json``. Needs wrk, nginx, PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ["view", "list", "create", "auth-refresh"]
DB_URL = os.environ.get("ROOST_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ROOST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("roost_bench_run", REPO / "bench" / "run.py")
cluster_mod = _load("roost_deploy_cluster", REPO / "deploy" / "local" / "cluster.py")


@dataclass
class Target:
    """Something wrk loads: ``base`` for bench.run's helpers, ``extra`` for the user token."""

    label: str
    server: Any  # a bench.run Server (its port points at the target)
    extra: dict[str, Any] = field(default_factory=dict)


def endpoint(label: str, url: str, workdir: Path) -> Target:
    server = bench.Server(label, "", workdir)
    server.port = int(url.rsplit(":", 1)[1])
    return Target(label, server)


# -- CPU accounting ----------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def postgres_pids(database: str) -> list[int]:
    """The postmaster's helpers plus the backends of ``database`` (other tenants' backends excluded)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            cmdline = (entry / "cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        is_backend = "(" in cmdline  # "postgres: user db host(port) state"
        if not is_backend or f" {database} " in cmdline:
            out.append(int(entry.name))
    return out


def machine_busy_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


@dataclass
class CpuGroups:
    groups: dict[str, Callable[[], list[int]]]

    def snapshot(self) -> dict[str, Any]:
        return {"at": time.monotonic(), "machine": machine_busy_ticks(),
                "pids": {name: {p: _ticks(p) for p in pids()} for name, pids in self.groups.items()}}

    @staticmethod
    def busy_cores(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        hz, wall = os.sysconf("SC_CLK_TCK"), after["at"] - before["at"]
        out = {}
        for name, pids in after["pids"].items():
            start = before["pids"].get(name, {})
            out[name] = round(sum(t - start.get(p, 0) for p, t in pids.items()) / hz / wall, 2)
        busy = (after["machine"][0] - before["machine"][0]) / hz / wall
        out["other (wrk, other tenants)"] = round(max(0.0, busy - sum(out.values())), 2)
        out["machine"] = round(busy, 2)
        return out


# -- setup -------------------------------------------------------------------------------------


def login_user(target: Target, data: Any) -> None:
    user = bench.must(target.server.base, "POST", "/api/collections/users/auth-with-password",
                      {"identity": data.users[0]["email"], "password": bench.USER_PASSWORD}, what="user login")
    target.server.extra["user_token"] = user["token"]


def prepare_roost(root: Path, data: Any, log: Callable[[str], None]) -> tuple[Any, Any, list[Target]]:
    cluster = cluster_mod.start_cluster(root / "cluster", proxy="nginx", instances=2, db_url=DB_URL,
                                        redis_url=REDIS_URL, superuser=(bench.SU_EMAIL, bench.SU_PASSWORD),
                                        schema="bench_scale_" + os.urandom(4).hex())
    first = cluster.instances[0]
    single_dir = root / "single-nginx"
    single_dir.mkdir()
    single_port = cluster_mod.free_port()
    single = cluster_mod._start_proxy("nginx", single_dir, single_port, [first.url.removeprefix("http://")])
    if not cluster_mod.wait_healthy(f"http://127.0.0.1:{single_port}", single, 20):
        raise RuntimeError("the single-upstream nginx did not start")
    direct = endpoint("roost x1 direct", first.url, root)
    direct.server.login_superuser()
    bench.setup_schema(direct.server)
    took = bench.seed(direct.server, data, len(data.posts))
    log(f"  seeded Roost (PostgreSQL schema {cluster.schema}) with {len(data.posts)} posts in {took:.1f} s")
    targets = [direct, endpoint("roost x1 + nginx", f"http://127.0.0.1:{single_port}", root),
               endpoint("roost x2 + nginx", cluster.proxy_url, root)]
    return cluster, single, targets


def prepare_pocketbase(root: Path, data: Any, log: Callable[[str], None]) -> Any:
    srv = bench.Server("pocketbase", bench.find_binary("pocketbase"), root / "pocketbase")
    srv.upsert_superuser()
    srv.start()
    srv.login_superuser()
    bench.setup_schema(srv)
    took = bench.seed(srv, data, len(data.posts))
    log(f"  seeded PocketBase (SQLite) with {len(data.posts)} posts in {took:.1f} s")
    return srv


# -- measuring ---------------------------------------------------------------------------------


def measure(target: Target, name: str, data: Any, args: argparse.Namespace, cpu: CpuGroups,
            workdir: Path, seconds: float) -> dict[str, Any]:
    request = bench.scenario_request(name, target.server, data)
    script = workdir / f"{name}-{abs(hash(target.label))}.lua"
    script.write_text(bench.wrk_script(request))
    before = cpu.snapshot()
    # bench.run's wrk runner reads ``base`` and ``pid``; the CPU is accounted here per process group
    probe = _Probe(target.server.base, os.getpid())
    res: dict[str, Any] = bench.run_wrk(probe, script, request.path, seconds, args.threads, args.connections, "10s")
    res["cpu_cores"] = CpuGroups.busy_cores(before, cpu.snapshot())
    res["load1"] = os.getloadavg()[0]
    return res


@dataclass
class _Probe:
    base: str
    pid: int


def _mean_cores(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: round(statistics.mean(r["cpu_cores"][k] for r in runs), 2) for k in runs[0]["cpu_cores"]}


def summary_line(name: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rps = {label: statistics.median(r["rps"] for r in runs) for label, runs in rows.items()}
    one, one_proxy, two = rps["roost x1 direct"], rps["roost x1 + nginx"], rps["roost x2 + nginx"]
    return {"scenario": name, "rps": rps, "ratio_2_vs_1": two / one if one else None,
            "efficiency": two / (2 * one) if one else None,
            "efficiency_vs_proxied_1": two / (2 * one_proxy) if one_proxy else None,
            "non_2xx": {label: sum(r["non_2xx"] + r["socket_errors"] for r in runs) for label, runs in rows.items()},
            "cpu_cores": {label: _mean_cores(runs) for label, runs in rows.items()},
            "load1": {label: [round(r["load1"], 2) for r in runs] for label, runs in rows.items()}}


def cpu_ms_per_request(cores: dict[str, float], rps: float) -> dict[str, float]:
    """CPU milliseconds each request cost the server side (Roost, nginx, PostgreSQL, PocketBase)."""
    servers = {k: v for k, v in cores.items() if k.startswith(("roost", "nginx", "postgres", "pocketbase"))}
    roost = sum(v for k, v in servers.items() if k.startswith("roost"))
    out = {"roost": roost, **{k: v for k, v in servers.items() if not k.startswith("roost")}}
    return {k: round(1000 * v / rps, 2) for k, v in out.items() if v and rps}


def print_summary(line: dict[str, Any]) -> None:
    print(f"\n{line['scenario']}")
    for label, value in line["rps"].items():
        cores = ", ".join(f"{k} {v:.2f}" for k, v in line["cpu_cores"][label].items() if v)
        per_request = ", ".join(f"{k} {v}" for k, v in cpu_ms_per_request(line["cpu_cores"][label], value).items())
        print(f"  {label:<20} {value:>8.0f} req/s  load1 {line['load1'][label]}  non-2xx {line['non_2xx'][label]}"
              f"\n  {'':<20} cores busy: {cores}\n  {'':<20} CPU ms/request: {per_request}")
    print(f"  x2 / x1 = {line['ratio_2_vs_1']:.2f}; efficiency rps2/(2*rps1) = {line['efficiency']:.2f} "
          f"(vs x1 behind nginx: {line['efficiency_vs_proxied_1']:.2f})")


def run(args: argparse.Namespace) -> dict[str, Any]:
    def log(message: str) -> None:
        print(message, flush=True)

    root = Path(tempfile.mkdtemp(prefix="roost-bench-scale-"))
    data = bench.make_dataset(args.size)
    log(f"uptime: {Path('/proc/loadavg').read_text().strip()} ({os.cpu_count()} CPUs)")
    cluster, single, targets = prepare_roost(root, data, log)
    pocketbase = None
    try:
        if not args.no_pocketbase:
            pocketbase = prepare_pocketbase(root, data, log)
            targets.append(Target("pocketbase", pocketbase))
        for target in targets:
            login_user(target, data)
        cpu = CpuGroups({
            "roost-0": lambda: bench.process_tree(cluster.instances[0].process.pid),
            "roost-1": lambda: bench.process_tree(cluster.instances[1].process.pid),
            "nginx": lambda: bench.process_tree(cluster.proxy_process.pid) + bench.process_tree(single.pid),
            "postgres": lambda: postgres_pids(DB_URL.rsplit("/", 1)[1]),
            "pocketbase": lambda: bench.process_tree(pocketbase.pid) if pocketbase else [],
        })
        return measure_all(args, targets, data, cpu, root)
    finally:
        cluster_mod._terminate([single])
        cluster.stop(purge=True)
        if pocketbase is not None:
            pocketbase.stop()


def measure_all(args: argparse.Namespace, targets: list[Target], data: Any, cpu: CpuGroups,
                root: Path) -> dict[str, Any]:
    lines = []
    for name in args.scenarios:
        for target in targets:
            ok, detail = bench.validate(name, target.server, data)
            if not ok:
                raise RuntimeError(f"{target.label} {name}: {detail}")
            measure(target, name, data, args, cpu, root, 2)  # warm-up
        rows: dict[str, list[dict[str, Any]]] = {t.label: [] for t in targets}
        for _ in range(args.rounds):
            for target in targets:
                rows[target.label].append(measure(target, name, data, args, cpu, root, args.duration))
        line = summary_line(name, rows)
        print_summary(line)
        lines.append(line)
    return {"scenarios": lines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000, help="posts seeded (default 10000)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk round (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target (default 2)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS)
    parser.add_argument("--no-pocketbase", action="store_true", help="skip the PocketBase baseline")
    args = parser.parse_args(argv)
    python = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable
    command = shlex.join([python, "bench/scale/run.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"reproduce: cd {REPO} && {command}")
    started = dt.datetime.now(dt.UTC)
    report = run(args)
    report["meta"] = {"started": started.isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                      "args": vars(args), "command": command, "loadavg_end": os.getloadavg()}
    out = bench.RESULTS_DIR / f"scale-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {out.relative_to(REPO)}\nreproduce: cd {REPO} && {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
