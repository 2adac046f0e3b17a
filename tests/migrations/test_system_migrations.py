"""Bootstrap runs Roost's system migrations through the runner: a fresh data dir gets the schema
Roost always made, and a data dir made before the runner existed opens as migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from roost.config import Config
from roost.core.app import App
from roost.testing import make_test_app

FIXTURE = Path(__file__).parent / "fixtures" / "data_dir_before_runner.sql"
SCHEMA = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"


def restore_old_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "data.db") as db:
        db.executescript(FIXTURE.read_text())


def history(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "data.db") as db:
        return dict(db.execute('SELECT "file", "applied" FROM "_migrations"').fetchall())


async def test_a_fresh_data_dir_gets_the_schema_of_the_previous_bootstrap(tmp_path: Path) -> None:
    app = App(Config(data_dir=tmp_path / "data"))
    await app.bootstrap()
    await app.close()
    assert list(history(tmp_path / "data")) == ["1_initial_collections", "5_cron_claims", "6_jobs", "7_logs", "8_api_keys", "9_logs_without_message_index"]
    with sqlite3.connect(tmp_path / "data" / "data.db") as new:
        made_now = set(new.execute(SCHEMA).fetchall())
    old = sqlite3.connect(":memory:")
    old.executescript(FIXTURE.read_text())
    made_before = set(old.execute(SCHEMA).fetchall())
    old.close()
    # the old dir also holds a user collection and a lazily created system collection
    later = {"posts", "_totps", "idx_totps_collectionRef_recordRef"}
    # the fixture predates the cron claims table, which a later system migration adds
    added_since = {"_cronClaims", "_jobs", "idx__jobs_status_runAt", "_apiKeys", "idx__apiKeys_hash"}
    assert {row for row in made_now if row[1] not in added_since} == {row for row in made_before if row[1] not in later}
    assert {row[1] for row in made_now} >= {"_cronClaims"}


async def test_a_data_dir_made_before_the_runner_opens_as_migrated(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    restore_old_data_dir(data_dir)
    before = history(data_dir)
    assert set(before) == {"1_initial_collections", "2_totps"}
    async with make_test_app(data_dir) as api:  # logs in as the superuser the old dir holds
        res = await api.call("GET", "/api/collections/posts/records")
        assert res.status_code == 200, res.text
        assert [r["title"] for r in res.json()["items"]] == ["made before the migrations runner"]
        names = {c.name for c in api.app.collections.all()}
        assert {"_superusers", "users", "_mfas", "_otps", "_externalAuths", "_authOrigins", "_totps", "posts"} <= names
        created = await api.su("POST", "/api/collections", json={"name": "later", "fields": [{"name": "n", "type": "number"}]})
        assert created.status_code == 200, created.text
    after = history(data_dir)
    # the old dir gets only the system migrations added since, once
    assert set(after) == {*before, "5_cron_claims", "6_jobs", "7_logs", "8_api_keys", "9_logs_without_message_index"} and {k: after[k] for k in before} == before
