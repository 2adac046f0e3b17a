"""One guest request must not freeze the server (issue 9, defect 5).

A heavy guest filter stops at ``--queryTimeout`` with a 400 while ``/api/health`` keeps
answering; on PostgreSQL a request whose client disconnects leaves no statement running; an
expand that fans out past the per-response cap answers 400.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import Api
from tests.e2e.servers import (
    PG_URL,
    LiveServer,
    RoostNotReady,
    ServiceUnavailable,
    services_required,
    start_server,
)

#: each row links to up to 50 earlier rows; three back-relation hops multiply those fan-outs and
#: no row matches the last condition, so every nested EXISTS scans to its end (hours unbounded)
HEAVY_FILTER = "{c}_via_links.{c}_via_links.{c}_via_links.name ?~ 'zz'"
ROWS = 1500
LINKS = 50


def _launch(kind: str, monkeypatch: pytest.MonkeyPatch, query_timeout: float) -> LiveServer:
    monkeypatch.setenv("ROOST_QUERY_TIMEOUT", str(query_timeout))
    try:
        return start_server(kind)
    except (RoostNotReady, ServiceUnavailable) as exc:
        if services_required():
            pytest.fail(f"required service missing: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _seed(server: LiveServer) -> str:
    name = "heavy_" + secrets.token_hex(4)
    if server.kind == "roost-pg":  # a statement left running (before the fix) would block DROP SCHEMA
        server._cleanup.insert(0, lambda: asyncio.run(_cancel_statements(name)))
    with server.client(headers={"Authorization": server.superuser_token()}) as http:
        assert http.patch("/api/settings", json={"batch": {"enabled": True, "maxRequests": 500, "timeout": 120}}).status_code == 200
        res = http.post("/api/collections", json={"name": name, "type": "base", "listRule": "", "viewRule": ""})
        assert res.status_code == 200, res.text
        links = {"name": "links", "type": "relation", "collectionId": res.json()["id"], "maxSelect": LINKS}
        fields = [*res.json()["fields"], {"name": "name", "type": "text"}, links]
        assert http.patch(f"/api/collections/{name}", json={"fields": fields}).status_code == 200
        # a generous batch timeout: on a loaded machine 500 inserts can outlast the default 3 s
        for start in range(0, ROWS, 500):
            requests = [
                {"method": "POST", "url": f"/api/collections/{name}/records", "body": _row(i)}
                for i in range(start, start + 500)
            ]
            res = http.post("/api/batch", json={"requests": requests})
            assert res.status_code == 200, res.text[:300]
    return name


def _row(i: int) -> dict[str, Any]:
    links = sorted({f"r{(i * 7 + k * 31) % i:014d}" for k in range(min(i, LINKS))}) if i else []
    return {"id": f"r{i:014d}", "name": f"n{i:05d}", "links": links}


def _heavy_path(name: str) -> str:
    query = urlencode({"filter": HEAVY_FILTER.format(c=name), "perPage": 1, "skipTotal": 1})
    return f"/api/collections/{name}/records?{query}"


@pytest.fixture(params=["roost", "roost-pg"])
def slow_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    server = _launch(request.param, monkeypatch, query_timeout=1)
    yield server
    server.stop()


def test_heavy_guest_filter_times_out_while_health_answers(slow_server: LiveServer) -> None:
    name = _seed(slow_server)
    finished: list[str] = []

    def call(path: str, label: str) -> httpx.Response:
        with httpx.Client(base_url=slow_server.base_url, timeout=30) as http:
            response = http.get(path)
        finished.append(label)
        return response

    with ThreadPoolExecutor(2) as pool:
        heavy = pool.submit(call, _heavy_path(name), "heavy")
        time.sleep(0.3)  # pacing only: let the server start the heavy query
        health = pool.submit(call, "/api/health", "health").result()
        heavy_response = heavy.result()
    assert health.status_code == 200
    assert finished == ["health", "heavy"], "health waited for the heavy query"
    assert heavy_response.status_code == 400, heavy_response.text
    body = heavy_response.json()
    assert set(body) == {"status", "message", "data"} and "query timeout" in body["message"]
    with slow_server.client() as http:  # the server is still fine afterwards
        assert http.get(f"/api/collections/{name}/records", params={"perPage": 2}).json()["totalItems"] == ROWS


async def _active_statements(schema_marker: str) -> int:
    conn = await asyncpg.connect(PG_URL)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
            " AND query LIKE '%' || $1 || '%'",
            schema_marker,
        )
        return int(count)
    finally:
        await conn.close()


async def _cancel_statements(name: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND query LIKE '%' || $1 || '%'",
            name,
        )
    finally:
        await conn.close()


def _wait_for(predicate: Any, attempts: int = 100) -> bool:
    for _ in range(attempts):
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_disconnected_client_leaves_no_running_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    # a query timeout far beyond the polling below: only the disconnect can stop the statement
    with _launch("roost-pg", monkeypatch, query_timeout=600) as server:
        name = _seed(server)
        url = urlsplit(server.base_url)
        sock = socket.create_connection((url.hostname, url.port))
        sock.sendall(f"GET {_heavy_path(name)} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        running = _wait_for(lambda: asyncio.run(_active_statements(name)) > 0)
        sock.close()
        assert running, "the heavy statement never showed up in pg_stat_activity"
        assert _wait_for(lambda: asyncio.run(_active_statements(name)) == 0), "the statement outlived its client"
        with server.client() as http:
            assert http.get("/api/health").status_code == 200


async def test_expand_fan_out_past_the_cap_is_refused(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "nodes", "type": "base", "listRule": "", "viewRule": ""})
    assert res.status_code == 200, res.text
    nodes = res.json()
    fields = [*nodes["fields"], {"name": "links", "type": "relation", "collectionId": nodes["id"], "maxSelect": 99}]
    assert (await api.su("PATCH", "/api/collections/nodes", json={"fields": fields})).status_code == 200
    ids = [(await api.su("POST", "/api/collections/nodes/records", json={})).json()["id"] for _ in range(20)]
    for node_id in ids:
        assert (await api.su("PATCH", f"/api/collections/nodes/records/{node_id}", json={"links": ids})).status_code == 200

    # 20 records x (20 + 400 + 8,000) expanded copies: far past the default cap of 5,000
    res = await api.call("GET", "/api/collections/nodes/records", params={"expand": "links.links.links"})
    assert res.status_code == 400, res.text[:200]
    assert "expand" in res.json()["message"]
    assert (await api.call("GET", "/api/health")).status_code == 200
    # within the cap the expand is whole: 20 x (20 + 400) = 8,400 would pass 5,000, one record does not
    res = await api.call("GET", f"/api/collections/nodes/records/{ids[0]}", params={"expand": "links.links"})
    assert res.status_code == 200
    assert sum(len(r["expand"]["links"]) for r in res.json()["expand"]["links"]) == 400
