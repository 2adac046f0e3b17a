"""SQL statement lines (``--dev``) on every database, and Roost as a library: its request lines
reach the application's logging, which Roost leaves configured as it was."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from roost.config import Config
from roost.core.db.base import QueryError
from roost.core.db.facade import Database
from roost.testing import ServiceUnavailable, make_test_app
from roost.testing.databases import BACKENDS, temporary_database
from tests.conftest import skip_or_fail

SECRET = "cnrysqlparam0123456789"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_statements_logged_with_timing_and_parameter_types_only(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        async with temporary_database(backend) as values:
            config = Config(data_dir=tmp_path, **values)
            db = Database(config.database_url, schema=config.db_schema, trace_sql=True)
            try:
                await db.ping()
                with caplog.at_level(logging.INFO, logger="roost.sql"):
                    assert await db.fetch_value("SELECT :secret", {"secret": SECRET}) == SECRET
                    with pytest.raises(QueryError):
                        await db.fetch_value("SELECT nope FROM no_such_table WHERE x = :secret", {"secret": SECRET})
            finally:
                await db.close()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    lines = [r for r in caplog.records if r.name == "roost.sql"]
    ok = next(r for r in lines if r.getMessage() in ("SELECT :secret", "SELECT $1", "SELECT %s"))
    assert isinstance(ok.duration_ms, float) and ok.params == ["str"]  # type: ignore[attr-defined]
    failed = [r for r in lines if "no_such_table" in r.getMessage()]
    assert failed and all(getattr(r, "failed", False) for r in failed)
    assert not [r for r in caplog.records if SECRET in r.getMessage() or SECRET in str(r.__dict__)]


async def test_library_use_leaves_logging_config_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with caplog.at_level(logging.INFO, logger="roost.request"):
        async with make_test_app(tmp_path) as api:
            res = await api.call("GET", "/api/collections/users/records", headers={"X-Request-Id": "lib-1"})
            assert res.headers["x-request-id"] == "lib-1"
            unsafe = await api.call("GET", "/api/health", headers={"X-Request-Id": "bad\tid"})
    assert [h for h in root.handlers if h not in handlers and h is not caplog.handler] == []
    assert root.level == level or caplog.handler in root.handlers
    lines = {r.request_id: r for r in caplog.records if r.name == "roost.request"}  # type: ignore[attr-defined]
    line = lines["lib-1"]
    assert line.route == "/api/collections/{collection}/records" and line.status == 200  # type: ignore[attr-defined]
    assert unsafe.headers["x-request-id"] in lines and "bad\tid" not in lines
