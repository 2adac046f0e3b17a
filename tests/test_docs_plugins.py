"""docs/plugins.md is run: its examples define, serve and test real plugins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from roost.testing import make_test_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def run_block(index: int, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(
        compile(blocks()[index], f"{DOC}:block{index}", "exec"), namespace
    )  # our own documentation
    return namespace


async def test_the_stats_plugin_and_its_test_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = run_block(0, {})
    run_block(4, namespace)
    await namespace["test_stats_count_created_posts"](tmp_path / "test")


async def test_the_cron_example_registers_a_job(tmp_path: Path) -> None:
    reports = run_block(1, {})["Reports"]()
    async with make_test_app(tmp_path, plugins=[reports]) as api:
        assert ("nightly_report", "30 2 * * *") in [(job.id, job.expression) for job in api.app.cron.jobs()]
        await api.app.cron.run("nightly_report")
    assert reports.sent == 1


def test_the_cli_example_adds_a_command(tmp_path: Path) -> None:
    namespace = run_block(2, {})
    server = namespace["Roost"](data_dir=tmp_path, plugins=[namespace["Tools"]()])
    out = CliRunner().invoke(server.commands(), ["where"], obj=server)
    assert out.exit_code == 0 and out.output.strip() == str(tmp_path)


async def test_the_mounting_example_serves_below_its_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = run_block(3, {})
    parent, server = namespace["app"], namespace["server"]
    async with parent.router.lifespan_context(parent):
        assert server.asgi.started
        transport = httpx.ASGITransport(app=parent)
        async with httpx.AsyncClient(transport=transport, base_url="http://parent.test") as client:
            assert (await client.get("/pb/api/health")).json()["message"] == "API is healthy."
    assert not server.asgi.started  # stopped with the parent
