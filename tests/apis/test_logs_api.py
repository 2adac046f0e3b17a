"""Request logs (``app.logs``) and GET /api/logs, /api/logs/{id}, /api/logs/stats on every backend."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import PlainTextResponse

from roost.app import Plugin
from roost.core.events import ServeEvent
from roost.core.logs import MESSAGE_INDEX
from roost.migrations.system import SYSTEM_MIGRATIONS
from roost.testing import TestApp, make_test_app
from tests.apis.test_realtime_sse import Stream
from tests.conftest import Api

USER = {"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}


async def _set_logs(api: TestApp, **logs: Any) -> None:
    res = await api.su("PATCH", "/api/settings", json={"logs": logs})
    assert res.status_code == 200, res.text


async def _logged(api: TestApp, query: str = "") -> list[dict[str, Any]]:
    await api.app.logs.flush()
    res = await api.su("GET", f"/api/logs?perPage=500{query}")
    assert res.status_code == 200, res.text
    return list(res.json()["items"])


def _by_url(items: list[dict[str, Any]], url: str) -> dict[str, Any]:
    found = [item for item in items if item["data"].get("url") == url]
    assert found, f"{url} not logged: {[i['data'].get('url') for i in items]}"
    return found[-1]


async def test_a_request_is_logged_in_pocketbases_shape(api: Api) -> None:
    await api.call("GET", "/api/health?x=1", headers={"referer": "http://ref.example/", "user-agent": "probe/1"})
    item = _by_url(await _logged(api), "/api/health?x=1")
    assert set(item) == {"id", "created", "data", "message", "level"}
    assert item["message"] == "GET /api/health?x=1" and item["level"] == 0
    assert len(item["id"]) == 15 and item["created"].endswith("Z")
    data = item["data"]
    assert data["execTime"] >= 0
    assert {k: v for k, v in data.items() if k != "execTime"} == {
        "type": "request", "method": "GET", "url": "/api/health?x=1", "status": 200, "auth": "",
        "referer": "http://ref.example/", "userAgent": "probe/1", "remoteIP": "127.0.0.1", "userIP": "127.0.0.1",
    }  # fmt: skip
    assert (await api.su("GET", f"/api/logs/{item['id']}")).json() == item


async def test_one_batch_keeps_every_row_exactly(api: Api) -> None:
    """A batch is written in one statement (from one JSON array on SQLite); odd text, a NUL
    (which falls back to a statement per row), levels and ids all come back as they went in."""
    import logging

    paths = ["/api/health?q=%E2%80%A8%22%5C%F0%9F%90%A6", "/api/health?n=1", "/api/nothing-here", "/api/x%00y"]
    for path in paths:
        await api.call("GET", path)
    for message in ("plain \u2028 \U0001f426 \"quoted\"", "with a \x00 NUL"):
        await api.call("GET", "/api/health?between=1")
        logging.getLogger("roost.test").warning("%s", message)
    items = await _logged(api)
    for path in paths:
        assert _by_url(items, path)["message"] == f"GET {path}"
    assert _by_url(items, "/api/nothing-here")["data"]["status"] == 404
    assert len({item["id"] for item in items}) == len(items)
    app_lines = [(i["level"], i["message"]) for i in items if i["data"].get("logger") == "roost.test"]
    nul = "\ufffd" if api.app.db.dialect == "postgresql" else "\x00"  # PostgreSQL stores no NUL in text
    assert sorted(app_lines) == [(4, "plain \u2028 \U0001f426 \"quoted\""), (4, f"with a {nul} NUL")]


async def test_ids_follow_time_and_a_batch_whose_id_is_taken_is_written_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log id starts with its row's time, so a batch appends to the id index instead of
    scattering over it. When an id is already taken the batch is written again with fresh ids:
    nothing is lost and the row that had the id keeps it."""
    import re

    from roost.core import logs as logs_module

    await api.call("GET", "/api/health?first=1")
    first = _by_url(await _logged(api), "/api/health?first=1")
    make_ids, made = logs_module.new_log_ids, []

    def taken_once(created: list[float]) -> list[str]:
        ids = make_ids(created)
        made.append(len(created))
        if len(made) == 1:
            ids[-1] = first["id"]
        return ids

    monkeypatch.setattr(logs_module, "new_log_ids", taken_once)
    await api.call("GET", "/api/health?second=1")
    await api.call("GET", "/api/health?third=1")
    items = await _logged(api)
    assert len(made) == 2  # the batch, then the batch again with fresh ids
    assert _by_url(items, "/api/health?first=1") == first
    assert first["id"] not in {_by_url(items, f"/api/health?{n}=1")["id"] for n in ("second", "third")}
    assert len({item["id"] for item in items}) == len(items)
    assert all(re.fullmatch(r"[a-z0-9]{15}", item["id"]) for item in items)
    by_time = sorted(items, key=lambda item: item["created"])
    assert [item["id"][:8] for item in by_time] == sorted(item["id"][:8] for item in items)
    assert first["id"][:8] < _by_url(items, "/api/health?third=1")["id"][:8] or first["created"] == _by_url(items, "/api/health?third=1")["created"]


def test_log_ids_keep_their_time_order_across_the_years() -> None:
    from roost.core.logs import new_log_ids

    times = [1_577_836_800.0, 1_700_000_000.0, 1_700_000_000.001, 1_764_806_400.5, 4_102_444_800.0]  # 2020 to 2100
    ids = new_log_ids(times)
    assert ids == sorted(ids) and len({i[:8] for i in ids}) == len(times)
    assert new_log_ids([1_700_000_000.0, 1_700_000_000.0])[0][:8] == ids[1][:8]


async def test_auth_and_its_id_when_log_auth_id_is_on(api: Api) -> None:
    user = await api.create_record("users", USER)
    token = await api.login("users", USER["email"], USER["password"])
    await api.call("GET", "/api/collections/users/records", token=token)
    assert "authId" not in _by_url(await _logged(api), "/api/collections/users/records")["data"]
    await _set_logs(api, logAuthId=True)
    await api.call("GET", "/api/collections/users/records?page=2", token=token)
    await api.call("GET", "/api/health", token=token)  # a route that never asks for the auth
    items = await _logged(api)
    for url in ("/api/collections/users/records?page=2", "/api/health"):
        data = _by_url(items, url)["data"]
        assert data["auth"] == "users" and data["authId"] == user["id"]
    assert _by_url(items, "/api/settings")["data"]["auth"] == "_superusers"


async def test_errors_are_logged_with_their_message_and_details(api: Api) -> None:
    await api.call("GET", "/api/collections/nope/records")
    await api.su("POST", "/api/collections", json={"name": ""})
    await api.call("GET", "/api/logs")
    items = await _logged(api)
    missing = _by_url(items, "/api/collections/nope/records")
    assert missing["level"] == 8 and missing["data"]["status"] == 404
    assert missing["data"]["error"] == "Missing collection context." and missing["data"]["details"] is None
    invalid = [i for i in items if i["message"] == "POST /api/collections"][-1]["data"]
    assert invalid["status"] == 400 and invalid["error"] == "Failed to create collection."
    assert invalid["details"] == {"name": "Cannot be blank."}
    guest = _by_url(items, "/api/logs")["data"]
    assert guest["status"] == 401 and guest["error"] == "The request requires valid record authorization token."


async def test_min_level_keeps_only_errors_and_log_ip_off_drops_the_ips(api: Api) -> None:
    await _set_logs(api, minLevel=1, logIP=False)
    await api.call("GET", "/api/health?ok")
    await api.call("GET", "/api/collections/nope/records?bad")
    items = await _logged(api)
    assert not [i for i in items if i["data"].get("url") == "/api/health?ok"]
    bad = _by_url(items, "/api/collections/nope/records?bad")["data"]
    assert "remoteIP" not in bad and "userIP" not in bad


async def test_max_days_zero_turns_request_logging_off(api: Api) -> None:
    await _set_logs(api, maxDays=0)
    await api.call("GET", "/api/health?off")
    assert not [i for i in await _logged(api) if i["data"].get("url") == "/api/health?off"]


async def test_secrets_stay_out_of_the_log(api: Api) -> None:
    await api.create_record("users", USER)
    token = await api.login("users", USER["email"], USER["password"])
    await api.call("GET", "/api/files/c/r/f.png?thumb=10x10&token=filetokenvalue", headers={"cookie": "pb_auth=cookievalue"})
    await api.call("GET", "/api/collections/users/records", token=token)
    await api.app.logs.flush()
    body = (await api.su("GET", "/api/logs?perPage=500")).text
    for secret in ("filetokenvalue", "cookievalue", token, USER["password"], api.su_token):
        assert secret not in body
    assert "/api/files/c/r/f.png?thumb=10x10&token=***" in body


async def test_filter_sort_fields_and_stats(api: Api) -> None:
    for n in range(3):
        await api.call("GET", f"/api/collections/nope/records?n={n}")
    await api.call("GET", "/api/health?n=9")
    await api.app.logs.flush()
    res = await api.su("GET", "/api/logs?filter=" + "data.status>=400 %26%26 data.url~'nope'" + "&sort=-data.url&fields=data.url")
    assert res.json() == {"items": [{"data": {"url": f"/api/collections/nope/records?n={n}"}} for n in (2, 1, 0)],
                          "page": 1, "perPage": 30, "totalItems": 3, "totalPages": 1}  # fmt: skip
    paged = (await api.su("GET", "/api/logs?filter=level=8&perPage=2&page=2&skipTotal=1")).json()
    assert paged["totalItems"] == -1 and len(paged["items"]) == 1
    stats = (await api.su("GET", "/api/logs/stats?filter=data.url~'nope'")).json()
    hour = datetime.now(UTC).strftime("%Y-%m-%d %H:00:00.000Z")
    assert stats in ([{"total": 3, "date": hour}], [{"total": 3, "date": stats[0]["date"]}])
    assert sum(s["total"] for s in (await api.su("GET", "/api/logs/stats")).json()) >= 4
    for url in ("/api/logs?filter=bad~~", "/api/logs?filter=nofield=1", "/api/logs?sort=rowid", "/api/logs/stats?filter=x~~"):
        res = await api.su("GET", url)
        assert res.status_code == 400, url
        assert res.json() == {"status": 400, "message": "Something went wrong while processing your request.", "data": {}}


async def test_only_superusers_read_logs(api: Api) -> None:
    await api.create_record("users", USER)
    user = await api.login("users", USER["email"], USER["password"])
    for url in ("/api/logs", "/api/logs/stats", "/api/logs/abc"):
        guest = await api.call("GET", url)
        assert guest.status_code == 401
        assert guest.json() == {"status": 401, "message": "The request requires valid record authorization token.", "data": {}}
        denied = await api.call("GET", url, token=user)
        assert denied.status_code == 403
    missing = await api.su("GET", "/api/logs/nope")
    assert missing.json() == {"status": 404, "message": "The requested resource wasn't found.", "data": {}}


async def test_pruning_deletes_rows_older_than_max_days(api: Api) -> None:
    await api.call("GET", "/api/health?old")
    await api.app.logs.flush()
    assert await api.app.logs.prune() == 0
    await _set_logs(api, maxDays=2)
    await api.app.logs.flush()
    later = datetime.now(UTC) + timedelta(days=2, minutes=1)
    assert await api.app.logs.prune(now=later) >= 1
    assert (await api.su("GET", "/api/logs?filter=data.url='/api/health?old'")).json()["totalItems"] == 0
    assert "__pbLogsCleanup__" in [job.id for job in api.app.cron.jobs()]


async def test_the_writer_job_flushes_without_being_asked(api: Api) -> None:
    api.app.logs.flush_interval = 0.05
    await api.call("GET", "/api/health?background")
    # the buffer empties when the writer takes a batch, a moment before its rows are committed:
    # wait for the row itself
    for _ in range(200):
        res = await api.su("GET", "/api/logs?filter=data.url='/api/health?background'")
        if res.json()["totalItems"]:
            break
        await asyncio.sleep(0.05)
    assert res.json()["totalItems"] == 1


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("steps", range(6))
async def test_the_writer_stops_when_cancelled_as_it_is_woken(api: Api, steps: int) -> None:
    # a cancel that lands while a wake-up is being delivered must still end the writer (app shutdown waits for it)
    logs = api.app.logs
    logs.flush_interval = 3600.0
    writer = asyncio.create_task(logs.run())
    for _ in range(3):
        await asyncio.sleep(0)
    logs._wake.set()
    for _ in range(steps):
        await asyncio.sleep(0)
    writer.cancel()
    done, _ = await asyncio.wait([writer], timeout=2)
    if not done:
        writer.cancel()
    assert done == {writer} and writer.cancelled()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_writer_stops_when_a_driver_turns_the_cancel_into_an_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = api.app.logs

    async def flush_like_a_driver() -> int:  # some drivers answer a cancel mid-statement with their own error
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("connection lost") from None
        return 0

    monkeypatch.setattr(logs, "flush", flush_like_a_driver)
    logs.flush_interval = 0.01
    writer = asyncio.create_task(logs.run())
    await asyncio.sleep(0.05)  # inside the flush now
    writer.cancel()
    done, _ = await asyncio.wait([writer], timeout=2)
    assert done == {writer} and writer.cancelled()


async def test_app_shutdown_is_bounded_when_a_job_ignores_its_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from roost.core import jobs

    monkeypatch.setattr(jobs, "STOP_GRACE", 0.2)
    release = asyncio.Event()

    async def stubborn() -> None:  # catches every cancel until the test lets it go
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    async with make_test_app(tmp_path) as api:
        api.app.jobs.add("stubborn", stubborn)
        api.app.jobs.start()
        await asyncio.sleep(0)
        assert "stubborn" in api.app.jobs.running()
        stop = asyncio.create_task(api.app.jobs.stop())
        done, _ = await asyncio.wait([stop], timeout=5)
        left = [t for t in asyncio.all_tasks() if t.get_name() == "roost job stubborn"]
        release.set()
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=5)
        assert done == {stop}
        assert left and all(t.done() for t in left)


async def test_custom_routes_are_logged_and_the_realtime_stream_is_not(tmp_path: Path) -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    async def add_route(e: ServeEvent) -> None:
        e.router.add_route("/hello", hello, ["GET"])
        await e.next()

    class HelloPlugin(Plugin):
        def register(self, app: Any) -> None:
            app.hooks.on_serve.bind(add_route)

    async with make_test_app(tmp_path, plugins=[HelloPlugin()]) as api:
        assert (await api.call("GET", "/hello")).status_code == 200
        items = await _logged(api)
        assert _by_url(items, "/hello")["data"]["status"] == 200
        stream = Stream(api)
        client_id = await stream.client_id()
        await api.call("POST", "/api/realtime", json={"clientId": client_id, "subscriptions": ["users"]})
        stream.hangup.set()
        await stream.ended()
        realtime = [i["message"] for i in await _logged(api) if i["data"].get("url") == "/api/realtime"]
        assert realtime == ["POST /api/realtime"]


async def test_no_entry_is_lost_at_shutdown_and_logs_live_in_auxiliary_db(tmp_path: Path) -> None:
    async with make_test_app(tmp_path) as api:
        api.app.logs.flush_interval = 3600.0
        api.app.logs.batch_size = 10_000
        for n in range(120):
            await api.call("GET", f"/api/health?n={n}")
        assert api.app.logs.pending() >= 120
    with sqlite3.connect(tmp_path / "auxiliary.db") as db:
        urls = {row[0] for row in db.execute("SELECT json_extract(data, '$.url') FROM _logs")}
    assert {f"/api/health?n={n}" for n in range(120)} <= urls
    with sqlite3.connect(tmp_path / "data.db") as db:
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = '_logs'").fetchall()


async def _log_indexes(api: TestApp) -> set[str]:
    db = api.app.logs.db
    sql = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '_logs'",
        "postgresql": "SELECT indexname AS name FROM pg_indexes WHERE tablename = '_logs' AND schemaname = current_schema()",
        "mysql": "SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_logs'",
    }[db.dialect]
    return {row["name"] for row in await db.fetch_all(sql)}


async def test_the_log_keeps_no_message_index_and_a_message_filter_still_answers(api: Api) -> None:
    """Each request's row would land anywhere in an index on ``message`` (its URL): the log
    keeps none, and the logs API filters on ``message`` by reading the table."""
    assert MESSAGE_INDEX not in await _log_indexes(api)
    assert {"idx_logs_level", "idx_logs_created"} <= await _log_indexes(api)
    for n in range(3):
        await api.call("GET", f"/api/health?m={n}")
    q = urllib.parse.quote('message = "GET /api/health?m=1"')
    items = await _logged(api, f"&filter={q}")
    assert [item["data"]["url"] for item in items] == ["/api/health?m=1"]


async def test_an_auxiliary_db_made_with_the_message_index_loses_it_and_keeps_its_rows(tmp_path: Path) -> None:
    """The upgrade on SQLite: auxiliary.db drops the index when it opens."""
    async with make_test_app(tmp_path) as api:
        await api.call("GET", "/api/health?kept=1")
        kept = _by_url(await _logged(api), "/api/health?kept=1")
    with sqlite3.connect(tmp_path / "auxiliary.db") as db:
        db.execute(f'CREATE INDEX "{MESSAGE_INDEX}" ON "_logs" ("message")')
    async with make_test_app(tmp_path) as api:
        assert MESSAGE_INDEX not in await _log_indexes(api)
        assert (await api.su("GET", f"/api/logs/{kept['id']}")).json() == kept


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
async def test_a_main_database_log_made_with_the_message_index_loses_it_and_keeps_its_rows(api: Api) -> None:
    """The upgrade on PostgreSQL: the system migration ``9_logs_without_message_index`` drops
    the index. MySQL's log never had it, and the migration leaves MySQL's as it is."""
    await api.call("GET", "/api/health?kept=1")
    kept = _by_url(await _logged(api), "/api/health?kept=1")
    db = api.app.logs.db
    if db.dialect == "postgresql":
        async with db.transaction() as conn:
            await conn.execute_ddl(f'CREATE INDEX "{MESSAGE_INDEX}" ON "_logs" ("message")')
        assert MESSAGE_INDEX in await _log_indexes(api)
    before = await _log_indexes(api)
    migration = next(m for m in SYSTEM_MIGRATIONS if m.file == "9_logs_without_message_index")
    assert migration.up is not None
    await migration.up(api.app)
    assert await _log_indexes(api) == before - {MESSAGE_INDEX}
    assert (await api.su("GET", f"/api/logs/{kept['id']}")).json() == kept


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_app_log_lines_are_stored_too(api: Api) -> None:
    import logging

    logging.getLogger("roost.test").warning("disk almost full: %s", "93%")
    items = await _logged(api, "&filter=data.logger='roost.test'")
    assert [(i["level"], i["message"]) for i in items] == [(4, "disk almost full: 93%")]
