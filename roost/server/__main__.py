"""``python -m roost.server --workers N --plan JSON``: the worker supervisor of ``roost serve``,
started by the serve command in place of itself once its start-up checks passed (see
:func:`roost.server.serving.serve`). The plan is what supervising needs of the configuration,
resolved by the serve command; the workers read the rest from the ROOST_* variables it
exported. This process imports no more of Roost than supervising needs."""

from __future__ import annotations

import sys

from roost.server.supervisor import Plan, supervise

USAGE = "usage: python -m roost.server --workers N --plan JSON (N >= 2; started by `roost serve`)"


def main(argv: list[str]) -> None:
    if len(argv) != 4 or argv[0] != "--workers" or argv[2] != "--plan" or not argv[1].isdigit():
        sys.exit(USAGE)
    try:
        plan = Plan.loads(argv[3])
    except (ValueError, TypeError) as exc:
        sys.exit(f"{USAGE}: {exc}")
    if plan.workers != int(argv[1]) or plan.workers < 2:
        sys.exit(USAGE)
    supervise(plan)


if __name__ == "__main__":
    main(sys.argv[1:])
