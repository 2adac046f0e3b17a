"""``GET /api/metrics``: who may read it, the off-switches, and that the counters move.

Metrics do not depend on the database kind, so these run on SQLite only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from roost.testing import ServiceUnavailable, make_test_app
from roost.version import __version__
from tests.conftest import Api, skip_or_fail

TOKEN = "metrics-token-0123456789"
NOT_FOUND = {"data": {}, "message": "The requested resource wasn't found.", "status": 404}
POSTS = {"name": "posts", "listRule": "", "viewRule": "", "createRule": "", "fields": [{"name": "title", "type": "text"}]}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def mapi(tmp_path: Path) -> AsyncIterator[Api]:
    """A Roost with a metrics token from its config, a public ``posts`` collection and a user."""
    async with make_test_app(tmp_path, metrics_token=TOKEN, collections=[POSTS]) as api:
        body = {"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"}
        assert (await api.call("POST", "/api/collections/users/records", json=body)).status_code == 200
        yield api


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by (sample name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


async def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    res = await api.call("GET", "/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200, res.text
    return samples(res.text)


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], sample: str, /, **labels: str) -> float:
    return scraped.get((sample, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize(("auth", "status", "message"), [
    ("", 401, "The request requires valid record authorization token."),
    ("Bearer wrong-token-0123456789", 401, "The request requires valid record authorization token."),
    ("Bearer ", 401, "The request requires valid record authorization token."),
    (TOKEN, 401, "The request requires valid record authorization token."),  # the scheme is required
    ("user", 403, "The authorized record is not allowed to perform this action."),
])  # fmt: skip
async def test_refused_callers_get_the_usual_error_envelope(mapi: Api, auth: str, status: int, message: str) -> None:
    if auth == "user":
        auth = await mapi.login("users", "ann@example.com", "password123")
    res = await mapi.call("GET", "/api/metrics", headers={"Authorization": auth} if auth else {})
    assert res.status_code == status
    assert res.json() == {"data": {}, "message": message, "status": status}
    assert "roost_http_requests_total" not in res.text


async def test_superusers_and_the_bearer_token_read_the_exposition_format(mapi: Api) -> None:
    by_superuser = await mapi.su("GET", "/api/metrics")
    assert by_superuser.status_code == 200
    assert by_superuser.headers["content-type"].startswith("text/plain")
    assert "# TYPE roost_http_requests_total counter" in by_superuser.text
    assert "process_resident_memory_bytes" in by_superuser.text
    by_token = await mapi.call("GET", "/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_token.status_code == 200
    assert "roost_http_request_duration_seconds_bucket" in by_token.text


async def test_a_token_from_the_settings_is_accepted_and_never_shown(mapi: Api) -> None:
    settings_token = "settings-token-abcdefghijkl"
    headers = {"Authorization": f"Bearer {settings_token}"}
    assert (await mapi.call("GET", "/api/metrics", headers=headers)).status_code == 401
    res = await mapi.su("PATCH", "/api/settings", json={"roostMetrics": {"token": settings_token}})
    assert res.status_code == 200, res.text
    assert res.json()["roostMetrics"] == {"enabled": True}
    assert settings_token not in (await mapi.su("GET", "/api/settings")).text
    assert (await mapi.call("GET", "/api/metrics", headers=headers)).status_code == 200


@pytest.mark.parametrize(("patch", "field", "code"), [
    ({"token": "short"}, "token", "validation_length_out_of_range"),
    ({"token": 5}, "token", "validation_invalid_value"),
    ({"enabled": "yes"}, "enabled", "validation_invalid_value"),
])  # fmt: skip
async def test_bad_metrics_settings_are_field_errors(mapi: Api, patch: dict[str, Any], field: str, code: str) -> None:
    res = await mapi.su("PATCH", "/api/settings", json={"roostMetrics": patch})
    assert res.status_code == 400
    assert res.json()["data"]["roostMetrics"][field]["code"] == code


async def test_the_settings_switch_makes_the_route_404(mapi: Api) -> None:
    res = await mapi.su("PATCH", "/api/settings", json={"roostMetrics": {"enabled": False}})
    assert res.status_code == 200, res.text
    for headers in ({"Authorization": mapi.su_token}, {"Authorization": f"Bearer {TOKEN}"}):
        res = await mapi.call("GET", "/api/metrics", headers=headers)
        assert (res.status_code, res.json()) == (404, NOT_FOUND)


async def test_metrics_off_in_the_config_is_404_and_records_nothing(tmp_path: Path) -> None:
    async with make_test_app(tmp_path, metrics=False, metrics_token=TOKEN) as api:
        res = await api.su("GET", "/api/metrics")
        assert (res.status_code, res.json()) == (404, NOT_FOUND)
        assert not api.app.metrics.enabled


async def test_a_request_counts_under_its_route_template_and_status(mapi: Api) -> None:
    record = await mapi.create_record("posts", {"title": "hello"})
    view = "/api/collections/{collection}/records/{id}"
    before = await scrape(mapi)
    for _ in range(3):
        assert (await mapi.call("GET", f"/api/collections/posts/records/{record['id']}")).status_code == 200
    assert (await mapi.call("GET", "/api/collections/posts/records/missing000000")).status_code == 404
    after = await scrape(mapi)
    ok = {"method": "GET", "route": view, "status": "200"}
    missing = {"method": "GET", "route": view, "status": "404"}
    assert value(after, "roost_http_requests_total", **ok) - value(before, "roost_http_requests_total", **ok) == 3
    assert value(after, "roost_http_requests_total", **missing) - value(before, "roost_http_requests_total", **missing) == 1
    assert value(after, "roost_http_request_duration_seconds_count", **ok) == value(after, "roost_http_requests_total", **ok)
    assert value(after, "roost_http_request_duration_seconds_bucket", le="+Inf", **ok) == value(after, "roost_http_requests_total", **ok)
    text = (await mapi.su("GET", "/api/metrics")).text
    assert record["id"] not in text and "missing000000" not in text  # never the raw URL


async def test_unmatched_paths_and_odd_methods_share_bounded_labels(mapi: Api) -> None:
    for n in range(3):
        assert (await mapi.call("GET", f"/no/such/page/{n}")).status_code == 404
    assert (await mapi.call("BREW", "/api/health")).status_code in (404, 405)
    scraped = await scrape(mapi)
    # the public-dir catch-all serves unknown paths: its template, never the path, is the label
    assert value(scraped, "roost_http_requests_total", method="GET", route="/{path:path}", status="404") == 3
    methods = {dict(labels)["method"] for name, labels in scraped if name == "roost_http_requests_total"}
    assert "BREW" not in methods and "OTHER" in methods
    assert not any("/no/such" in dict(labels).get("route", "") for _, labels in scraped)


async def test_a_429_counts_as_a_rate_limit_rejection(mapi: Api) -> None:
    rules = [{"label": "/api/health", "audience": "", "duration": 60, "maxRequests": 1}]
    res = await mapi.su("PATCH", "/api/settings", json={"rateLimits": {"enabled": True, "rules": rules}})
    assert res.status_code == 200, res.text
    statuses = [(await mapi.call("GET", "/api/health")).status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    scraped = await scrape(mapi)
    assert value(scraped, "roost_ratelimit_rejections_total", rule="/api/health") == 2
    # answered before routing, yet counted under the route's template
    assert value(scraped, "roost_http_requests_total", method="GET", route="/api/health", status="429") == 2


async def test_a_cron_run_counts_by_name_and_outcome(mapi: Api) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    mapi.app.cron.add("tidy", "@daily", lambda: None)
    mapi.app.cron.add("broken", "@daily", broken)
    await mapi.app.cron.run("tidy")
    await mapi.app.cron.run("broken")
    scraped = await scrape(mapi)
    assert value(scraped, "roost_job_runs_total", kind="cron", name="tidy", outcome="success") == 1
    assert value(scraped, "roost_job_runs_total", kind="cron", name="broken", outcome="failure") == 1


async def test_a_queue_job_counts_each_attempt(mapi: Api) -> None:
    attempts: list[int] = []

    async def flaky(payload: dict[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")

    mapi.app.queue.register("flaky", flaky, max_attempts=2, backoff=lambda _: 0.0)
    job_id = await mapi.app.queue.enqueue("flaky", {})
    for _ in range(200):
        row = await mapi.app.queue.get(job_id)
        if row is not None and row["status"] == "done":
            break
        await asyncio.sleep(0.05)
    scraped = await scrape(mapi)
    assert value(scraped, "roost_job_runs_total", kind="queue", name="flaky", outcome="retry") == 1
    assert value(scraped, "roost_job_runs_total", kind="queue", name="flaky", outcome="success") == 1


async def test_database_queries_are_timed(mapi: Api) -> None:
    before = value(await scrape(mapi), "roost_db_query_duration_seconds_count")
    assert (await mapi.call("GET", "/api/collections/posts/records")).status_code == 200
    assert value(await scrape(mapi), "roost_db_query_duration_seconds_count") > before


async def test_a_response_cache_hit_is_counted(tmp_path: Path) -> None:
    async with make_test_app(tmp_path, cache_url="memory://", metrics_token=TOKEN, collections=[POSTS]) as api:
        await api.create_record("posts", {"title": "cached"})
        for _ in range(3):
            assert (await api.call("GET", "/api/collections/posts/records")).status_code == 200
        scraped = await scrape(api)
        assert value(scraped, "roost_cache_requests_total", result="miss") == 1
        assert value(scraped, "roost_cache_requests_total", result="hit") == 2


async def test_realtime_connections_and_delivered_and_dropped_events(mapi: Api) -> None:
    hub = mapi.app.realtime
    hub.queue_size = 1  # new clients hold one queued event at most
    reader, stalled = hub.connect(), hub.connect()
    for client in (reader, stalled):
        hub.set_subscriptions(client, ["posts/*"])
    assert value(await scrape(mapi), "roost_realtime_connections") == 2
    await mapi.create_record("posts", {"title": "one"})
    await hub.drain()
    assert reader.outbox.take_ready(10)  # the reader keeps up, the stalled client does not
    await mapi.create_record("posts", {"title": "two"})
    await hub.drain()
    scraped = await scrape(mapi)
    assert value(scraped, "roost_realtime_events_total", outcome="delivered") == 3
    assert value(scraped, "roost_realtime_events_total", outcome="dropped") == 1
    for client in (reader, stalled):
        hub.disconnect(client)
    scraped = await scrape(mapi)
    assert value(scraped, "roost_realtime_connections") == 0
    assert value(scraped, "roost_realtime_clients_dropped_total") == 1


async def test_sent_mail_is_counted(mapi: Api, mail_sink: Any) -> None:
    res = await mapi.su("PATCH", "/api/settings", json={"smtp": mail_sink.smtp_settings()})
    assert res.status_code == 200, res.text
    res = await mapi.call("POST", "/api/collections/users/request-verification", json={"email": "ann@example.com"})
    assert res.status_code == 204
    await mail_sink.receive("ann@example.com")
    await mapi.app.mail.join()
    scraped = await scrape(mapi)
    assert value(scraped, "roost_mail_messages_total", outcome="sent") == 1
    assert value(scraped, "roost_mail_messages_total", outcome="failed") == 0
    assert value(scraped, "roost_mail_queue_size") == 0


async def test_the_instance_says_its_version_and_database(mapi: Api) -> None:
    scraped = await scrape(mapi)
    assert [labels for (name, labels) in scraped if name == "roost_info"] == [
        frozenset({("version", __version__), ("database", "sqlite")})
    ]
    assert value(scraped, "roost_info", version=__version__, database="sqlite") == 1


async def test_the_postgresql_pool_is_measured(tmp_path: Path) -> None:
    try:
        async with make_test_app(tmp_path, backend="postgres", metrics_token=TOKEN, db_pool_size=4) as api:
            for _ in range(3):
                assert (await api.call("GET", "/api/health")).status_code == 200
            # the request log is written in the background: a batch being written holds a
            # connection, so the gauge is read once nothing is left to write
            await api.app.logs.flush()
            scraped = await scrape(api)
            for _ in range(50):
                if value(scraped, "roost_db_pool_checked_out") == 0:
                    break
                await asyncio.sleep(0.05)
                await api.app.logs.flush()
                scraped = await scrape(api)
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    assert value(scraped, "roost_db_pool_size") == 4
    assert value(scraped, "roost_db_pool_checked_out") == 0  # every connection went back
    assert value(scraped, "roost_db_query_duration_seconds_count") > 3
    assert value(scraped, "roost_info", version=__version__, database="postgresql") == 1
