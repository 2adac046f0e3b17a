"""Cache services for tests: Redis at ROOST_TEST_REDIS_URL and a memcached started on a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

from tests.conftest import skip_or_fail

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_memcached() -> Iterator[str]:
    """A private memcached on loopback, stopped afterwards; skips when the binary is missing."""
    binary = shutil.which("memcached")
    if binary is None:
        skip_or_fail("memcached is not installed (apt-get install -y memcached)")
        raise AssertionError  # pragma: no cover - skip_or_fail raises
    port = _free_port()
    proc = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-u", "root"])
    try:
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                skip_or_fail("memcached did not start")
            time.sleep(0.05)
        yield f"memcached://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


async def redis_reachable() -> str | None:
    """None when Redis answers at REDIS_URL, else the reason."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # any failure means "not here"
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    finally:
        await client.aclose()
    return None
