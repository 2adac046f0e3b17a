"""S17 proxy trust: a direct client cannot pick its own IP with forwarded headers, with one
worker or several. Forwarded headers count only when the ``trustedProxy`` settings name them.

The review found ``--workers N`` started uvicorn with its proxy-headers middleware on, so from a
loopback peer a spoofed ``X-Forwarded-For`` became the client IP: a fresh rate-limit key per
request, and a way into ``excludedIPs``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from tests.roost_process import roost_process

REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXCLUDED = "203.0.113.7"
SPOOFS = ["198.51.100.1", "198.51.100.2", EXCLUDED, "10.0.0.9", EXCLUDED]
#: consecutive 429s that prove every spoof lands on the same counter
STREAK = 6


def _flags(workers: int) -> list[str]:
    return ["--workers", str(workers), "--redis-url", REDIS_URL] if workers > 1 else []


def _spoof(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip, "X-Real-IP": ip, "Forwarded": f"for={ip}"}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_spoofed_forwarded_header_neither_renames_the_client_nor_escapes_a_rate_limit(
    workers: int, tmp_path: Path
) -> None:
    with roost_process(tmp_path, *_flags(workers)) as server, server.client() as http:
        token = server.superuser_token()
        for ip in SPOOFS:  # several requests, so both workers answer at least once in all likelihood
            health = http.get("/api/health", headers={"Authorization": token, **_spoof(ip)})
            assert health.json()["data"]["realIP"] == "127.0.0.1", health.text
        label = f"/api/rl_{secrets.token_hex(4)}"  # a counter of its own in the shared Redis
        limits = {"enabled": True, "excludedIPs": [EXCLUDED],
                  "rules": [{"label": label, "audience": "", "duration": 60, "maxRequests": 2}]}  # fmt: skip
        res = http.patch("/api/settings", headers={"Authorization": token}, json={"rateLimits": limits})
        assert res.status_code == 200, res.text
        statuses: list[int] = []
        for attempt in range(60):  # the other worker reloads the settings from the broker meanwhile
            statuses.append(http.get(label, headers=_spoof(SPOOFS[attempt % len(SPOOFS)])).status_code)
            if statuses[-STREAK:] == [429] * STREAK:
                break
        assert statuses[-STREAK:] == [429] * STREAK, statuses
