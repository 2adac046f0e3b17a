"""GET /api/crons and POST /api/crons/{id}: superusers only, PocketBase's shapes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.testing import TestApp, make_test_app


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestApp]:
    async with make_test_app(tmp_path) as test_app:
        await test_app.create_record(
            "users", {"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}
        )
        yield test_app


async def test_only_superusers_list_and_run_jobs(api: TestApp) -> None:
    user = await api.login("users", "u@example.com", "password123")
    for method, url in (("GET", "/api/crons"), ("POST", "/api/crons/__pbOTPCleanup__"), ("POST", "/api/crons/nope")):
        guest = await api.call(method, url)
        assert guest.status_code == 401
        assert guest.json() == {
            "status": 401, "message": "The request requires valid record authorization token.", "data": {}
        }
        denied = await api.call(method, url, token=user)
        assert denied.status_code == 403
        assert denied.json()["message"] == "The authorized record is not allowed to perform this action."


async def test_the_list_holds_user_jobs_by_id_then_the_system_jobs(api: TestApp) -> None:
    api.app.cron.add("nightly", "@midnight", lambda: None)
    api.app.cron.add("Alpha", "*/5 1-3 * * 1,2", lambda: None)
    res = await api.su("GET", "/api/crons")
    assert res.status_code == 200
    assert res.json() == [
        {"id": "Alpha", "expression": "*/5 1-3 * * 1,2"},
        {"id": "nightly", "expression": "0 0 * * *"},
        {"id": "__pbOTPCleanup__", "expression": "0 * * * *"},
        {"id": "__pbMFACleanup__", "expression": "0 * * * *"},
        {"id": "__pbAuthSessionsCleanup__", "expression": "0 * * * *"},
        {"id": "__pbLogsCleanup__", "expression": "0 */6 * * *"},
    ]


async def test_run_starts_the_job_in_the_background(api: TestApp) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def report() -> None:
        started.set()
        await release.wait()
        finished.set()

    api.app.cron.add("report", "0 6 * * *", report)
    res = await api.su("POST", "/api/crons/report")
    assert res.status_code == 204 and res.content == b""
    await asyncio.wait_for(started.wait(), timeout=10)
    assert not finished.is_set()  # answered before the job ended
    release.set()
    await asyncio.wait_for(finished.wait(), timeout=10)


async def test_an_unknown_job_is_404(api: TestApp) -> None:
    res = await api.su("POST", "/api/crons/nope")
    assert res.status_code == 404
    assert res.json() == {"status": 404, "message": "Missing or invalid cron job.", "data": {}}


async def test_the_routes_are_in_the_openapi_document(api: TestApp) -> None:
    paths = (await api.su("GET", "/api/openapi.json")).json()["paths"]
    assert set(paths["/api/crons"]) == {"get"}
    assert set(paths["/api/crons/{id}"]) == {"post"}
