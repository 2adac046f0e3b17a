"""A collection or settings change answers once every other worker of ``roost serve`` (the
embedded hub) or every other instance on Redis has reloaded it, so the client's next request
sees the change whichever process answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from roost.apis import build_asgi
from roost.core import cluster as cluster_module
from roost.core.app import App
from roost.tools.hub import Hub
from roost.tools.hub import protocol as p
from tests.cache_services import REDIS_URL, redis_reachable
from tests.conftest import Api, skip_or_fail

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "mysql"])  # PostgreSQL brings its own broker


@contextlib.asynccontextmanager
async def _workers(api: Api, tmp_path: Path, broker: str) -> AsyncIterator[tuple[App, App, str]]:
    """Two Apps on one embedded hub (two workers) or on Redis (two instances); and the hub's
    socket path."""
    config = api.app.config
    if broker == "redis":
        reason = await redis_reachable()
        if reason:
            skip_or_fail(reason)
        config = config.model_copy(update={"redis_url": REDIS_URL})
    hub = Hub()
    path = str(tmp_path / "hub.sock")
    await hub.start(path)
    config = config.model_copy(update={"hub_url": "hub://" + path})
    writer, reader = App(config), App(config)
    try:
        for app in (writer, reader):
            await app.bootstrap()
        yield writer, reader, path
    finally:
        for app in (writer, reader):
            await app.close()
        await hub.close()


def _client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_asgi(app)), base_url="http://roost.test")


@pytest.mark.parametrize("broker", ["hub", "redis"])
async def test_the_other_process_has_the_change_when_the_answer_arrives(api: Api, tmp_path: Path, broker: str) -> None:
    auth = {"Authorization": api.su_token}
    async with _workers(api, tmp_path, broker) as (writer, reader, _), _client(writer) as http:
        res = await http.post("/api/collections", headers=auth, json={"name": "notes", "fields": [{"name": "t", "type": "text"}]})
        assert res.status_code == 200, res.text
        assert reader.collections.get("notes") is not None  # no wait: it was reloaded before the answer
        res = await http.patch("/api/collections/notes", headers=auth, json={"listRule": "t != ''"})
        assert res.status_code == 200, res.text
        assert reader.collections.get("notes").rule("listRule") == "t != ''"  # type: ignore[union-attr]
        res = await http.patch("/api/settings", headers=auth, json={"meta": {"appName": "Renamed"}})
        assert res.status_code == 200, res.text
        assert reader.settings.data["meta"]["appName"] == "Renamed"


async def test_a_worker_that_never_answers_delays_a_change_by_the_wait_only(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cluster_module, "RELOAD_WAIT", 0.3)
    async with _workers(api, tmp_path, "hub") as (writer, _, path):
        reader, silent = await asyncio.open_unix_connection(path)  # subscribes, then never reloads
        silent.write(p.encode(p.SUBSCRIBE, 1, writer.cluster.collections_channel.encode()))
        while (await p.read_frame(reader))[0] != p.REPLY:
            pass
        async with _client(writer) as http:
            with caplog.at_level(logging.WARNING, logger="roost.cluster"):
                res = await http.post("/api/collections", headers={"Authorization": api.su_token},
                                      json={"name": "notes", "fields": [{"name": "t", "type": "text"}]})  # fmt: skip
        assert res.status_code == 200, res.text
        assert "not every process said it reloaded" in caplog.text
        silent.close()
