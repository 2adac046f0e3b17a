"""Rate limits hold for the whole cluster: three instances behind a live proxy share one counter.

The counters live in Redis, so N+1 requests spread round robin over the instances still meet
the limit at N+1. Every instance answers with ``X-Roost-Instance`` (``deploy/local/cluster.py``
sets ``ROOST_INSTANCE_ID``), which shows the requests really were spread.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

from .test_cluster_proxy import _create_collection, _token, cluster

__all__ = ["cluster"]
TOO_MANY = {"data": {}, "message": "Too Many Requests.", "status": 429}
LIMIT = 6


def _wait_for_limits_everywhere(instances: list[Any], token: str) -> None:
    for instance in instances:  # each instance reloads the settings on the broker's signal
        deadline = time.monotonic() + 5
        while True:
            res = httpx.get(f"{instance.url}/api/settings", headers={"Authorization": token}, timeout=10)
            assert res.status_code == 200, res.text
            if res.json()["rateLimits"]["enabled"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert res.json()["rateLimits"]["enabled"], instance.url


def test_a_rate_limit_holds_across_instances_behind_the_proxy(cluster: Any) -> None:
    token = _token(cluster.proxy_url)
    name = "rl_" + secrets.token_hex(3)
    _create_collection(cluster.proxy_url, token, name)
    rules = [{"label": f"{name}:list", "audience": "", "duration": 60, "maxRequests": LIMIT}]
    res = httpx.patch(f"{cluster.proxy_url}/api/settings", headers={"Authorization": token}, timeout=10,
                      json={"rateLimits": {"enabled": True, "rules": rules}})
    assert res.status_code == 200, res.text
    _wait_for_limits_everywhere(cluster.instances, token)
    url = f"{cluster.proxy_url}/api/collections/{name}/records"
    with httpx.Client(timeout=10) as http:  # a guest: superusers are never limited
        allowed = [http.get(url) for _ in range(LIMIT)]
        over = http.get(url)
    assert [r.status_code for r in allowed] == [200] * LIMIT, [r.text for r in allowed]
    answered_by = {r.headers["x-roost-instance"] for r in allowed}
    assert len(answered_by) > 1, answered_by  # spread over the instances, yet one shared count
    assert over.status_code == 429, over.text
    assert over.json() == TOO_MANY
    assert 1 <= int(over.headers["retry-after"]) <= 60
    print(f"{cluster.proxy}: {LIMIT} allowed by {sorted(answered_by)}, "
          f"429 from {over.headers['x-roost-instance']}")
