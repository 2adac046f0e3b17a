"""pb.crons through the JS SDK: the system cleanup jobs are listed and runnable, superusers only."""

from __future__ import annotations

from .sdk import SdkDriver, step, superuser_login
from .servers import LiveServer


def test_crons_list_and_run(server: LiveServer, sdk: SdkDriver) -> None:
    run = sdk.run(server.base_url, [
        step("guest list", "client('guest').crons.getFullList()"),
        superuser_login(server),
        step("list", "pb.crons.getFullList()"),
        step("run", "pb.crons.run('__pbOTPCleanup__')"),
        step("run unknown", "pb.crons.run('no-such-job')"),
    ])  # fmt: skip
    assert run["guest list"].status == 401
    jobs = run["list"].value
    assert {"id": "__pbOTPCleanup__", "expression": "0 * * * *"} in jobs
    assert {"id": "__pbMFACleanup__", "expression": "0 * * * *"} in jobs
    assert all(set(job) == {"id", "expression"} for job in jobs)
    assert run["run"].value is True
    assert run["run unknown"].status == 404
    assert run["run unknown"].response["message"] == "Missing or invalid cron job."
