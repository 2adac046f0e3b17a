"""``python -m roost.server --workers N``: the worker supervisor of ``roost serve``, started by
the serve command in place of itself once its start-up checks passed (see
:func:`roost.server.serve`). It reads its configuration from the ROOST_* variables the serve
command exported, as each worker does, and imports no more of Roost than supervising needs."""

from __future__ import annotations

import sys

from roost.server import supervise


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] != "--workers" or not argv[1].isdigit() or int(argv[1]) < 2:
        sys.exit("usage: python -m roost.server --workers N (N >= 2; started by `roost serve`)")
    supervise(int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
