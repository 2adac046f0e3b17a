"""A ``roost serve`` subprocess with the flags and environment a test chooses (one worker or N).

One implementation starts every Roost server process of the suite: ``RoostProcess``
(``tests/reliability/procs.py``), which the reliability tests also kill and restart. This context
manager hands it out as the ``LiveServer`` the e2e helpers use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.servers import LiveServer
from tests.reliability.procs import RoostProcess


@contextmanager
def roost_process(
    tmp_path: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Serve a fresh data dir in ``tmp_path`` with ``flags`` added to ``roost serve``; stopped on exit.

    ``ROOST_DB_SCHEMA`` defaults to a random name: on SQLite it only keeps this server's broker
    channels apart from other tests sharing the same Redis.
    """
    proc = RoostProcess(tmp_path, extra=flags, env=env or {})
    try:
        proc.start()
        assert proc.process is not None
        yield LiveServer(
            "roost", proc.base_url, proc.data_dir, proc.process, tmp_path / "server.log"
        )
    finally:
        proc.stop()
