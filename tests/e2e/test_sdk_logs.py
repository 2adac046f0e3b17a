"""pb.logs through the JS SDK: getList, getOne and getStats answer as the reference server does.

The same steps run on a fresh reference server and a fresh Roost (SQLite, then PostgreSQL); the
answers are compared after masking what differs between any two runs (ids, times, durations).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer

PROBE = "data.url ~ 'probe='"
# both servers write their logs in the background: wait until the two probe requests are there
WAIT_FOR_PROBES = f"""
for (let i = 0; i < 200; i++) {{
  const page = await pb.logs.getList(1, 50, {{filter: {PROBE!r}, sort: 'data.url'}});
  if (page.totalItems >= 2) return page;
  await new Promise((resolve) => setTimeout(resolve, 100));
}}
throw new Error('the probe requests were never logged');
"""


def _steps(server: LiveServer) -> list[dict[str, str]]:
    return [
        step("guest list", "client('guest').logs.getList(1, 10)"),
        step("guest stats", "client('guest').logs.getStats()"),
        superuser_login(server),
        step("probe ok", "pb.send('/api/health?probe=1', {})"),
        step("probe denied", "client('guest').send('/api/logs?probe=2', {})"),
        code("list", WAIT_FOR_PROBES, save="page"),
        step("one", "pb.logs.getOne(vars.page.items[1].id)"),
        step("stats", f"pb.logs.getStats({{filter: {PROBE!r}}})"),
        step("errors only", f"pb.logs.getList(1, 10, {{filter: {PROBE!r} + ' && level > 0', fields: 'message,level,data.status'}})"),
        step("missing", "pb.logs.getOne('nosuchlogentry1')"),
        step("bad filter", "pb.logs.getList(1, 10, {filter: 'level ~~ 1'})"),
    ]  # fmt: skip


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    data = dict(item["data"])
    assert isinstance(data.pop("execTime"), (int, float))
    assert len(item["id"]) == 15 and item["created"].endswith("Z")
    return {"message": item["message"], "level": item["level"], "data": data}


def _normalised(run: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("guest list", "guest stats", "missing", "bad filter"):
        out[name] = (run[name].status, run[name].response)
    page = run["list"].value
    out["list"] = {**page, "items": [_entry(item) for item in page["items"]]}
    out["one"] = _entry(run["one"].value)
    assert run["one"].value["id"] == page["items"][1]["id"]
    out["stats"] = [{"total": s["total"], "date": s["date"][:11] + "<hour>"} for s in run["stats"].value]
    out["errors only"] = run["errors only"].value
    return out


@pytest.mark.parametrize("kind", ["roost", "roost-pg"])
def test_logs_list_view_and_stats_match_the_reference(
    kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver
) -> None:
    reference, roost = fresh_server("pocketbase"), fresh_server(kind)
    expected = _normalised(sdk.run(reference.base_url, _steps(reference)))
    actual = _normalised(sdk.run(roost.base_url, _steps(roost)))
    assert actual == expected
    assert expected["list"]["items"][0]["data"]["auth"] == "_superusers"
    assert expected["guest list"][0] == 401 and expected["missing"][0] == 404
