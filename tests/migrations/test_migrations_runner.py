"""The migrations runner on the user's files: up, down N, the history, a failing migration, history-sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from textwrap import dedent

import pytest

from roost.config import Config
from roost.core.app import App
from roost.core.migrations import (
    MigrationError,
    MigrationsRunner,
    is_user_file,
    load_dir,
    next_file,
)
from roost.plugins.migratecmd import create_blank
from roost.testing import ServiceUnavailable
from roost.testing.databases import temporary_database
from tests.conftest import skip_or_fail

COLLECTION_MIGRATION = '''
from roost.migrations import collections

async def up(app):
    await collections.create(app, {{"name": "{name}", "fields": [{{"name": "title", "type": "text"}}]}})

async def down(app):
    await collections.delete(app, "{name}")
'''


def write(directory: Path, file: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / file).write_text(dedent(text))


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[App]:
    try:
        async with temporary_database(request.param) as database:
            core = App(Config(data_dir=tmp_path / "data", migrations_dir=tmp_path / "migrations", **database))
            await core.bootstrap()
            try:
                yield core
            finally:
                await core.close()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))


def runner(app: App) -> MigrationsRunner:
    return MigrationsRunner(app, load_dir(app.config.migrations_path))


async def user_history(app: App) -> list[str]:
    return sorted(f for f in await runner(app).applied() if is_user_file(f))


async def test_up_applies_in_order_once_and_down_reverts_the_last_n(app: App) -> None:
    directory = app.config.migrations_path
    for stamp, name in ((1700000001, "alpha"), (1700000002, "beta"), (1700000010, "gamma")):
        write(directory, f"{stamp}_{name}.py", COLLECTION_MIGRATION.format(name=name))
    assert await runner(app).up() == ["1700000001_alpha.py", "1700000002_beta.py", "1700000010_gamma.py"]
    assert all(app.collections.get(n) for n in ("alpha", "beta", "gamma"))
    assert await runner(app).up() == []
    assert await user_history(app) == ["1700000001_alpha.py", "1700000002_beta.py", "1700000010_gamma.py"]

    assert await runner(app).down() == ["1700000010_gamma.py"]
    assert app.collections.get("gamma") is None and app.collections.get("beta") is not None
    assert await runner(app).down(5) == ["1700000002_beta.py", "1700000001_alpha.py"]
    assert await user_history(app) == []
    assert app.collections.get("alpha") is None
    # the system migration is never reverted by the user's runner
    assert "1_initial_collections" in await runner(app).applied()
    assert await runner(app).up() == ["1700000001_alpha.py", "1700000002_beta.py", "1700000010_gamma.py"]


async def test_a_failing_migration_rolls_back_and_stops(app: App) -> None:
    directory = app.config.migrations_path
    write(directory, "1700000001_first.py", COLLECTION_MIGRATION.format(name="first"))
    write(directory, "1700000002_broken.py", '''
        from roost.migrations import collections

        async def up(app):
            await collections.create(app, {"name": "half", "fields": [{"name": "n", "type": "number"}]})
            async with app.db.transaction() as conn:
                await conn.execute('INSERT INTO "half" ("id", "n") VALUES (:id, 1)', {"id": "a" * 15})
            raise RuntimeError("stop here")

        async def down(app):
            pass
    ''')
    write(directory, "1700000003_after.py", COLLECTION_MIGRATION.format(name="after"))
    with pytest.raises(MigrationError, match=r"failed to apply 1700000002_broken.py: RuntimeError: stop here"):
        await runner(app).up()
    assert app.collections.get("first") is not None
    assert app.collections.get("half") is None and app.collections.get("after") is None
    assert await user_history(app) == ["1700000001_first.py"]
    await app.collections.load()
    assert app.collections.get("half") is None
    # MySQL commits around DDL: the table stays behind there (docs/migrations.md says so)
    assert await table_exists(app, "half") == (app.dialect == "mysql")


async def table_exists(app: App, name: str) -> bool:
    sql = {
        "sqlite": "SELECT 1 FROM sqlite_master WHERE name = :n",
        "postgresql": "SELECT 1 FROM information_schema.tables WHERE table_name = :n AND table_schema = current_schema()",
        "mysql": "SELECT 1 FROM information_schema.tables WHERE table_name = :n AND table_schema = DATABASE()",
    }[app.dialect]
    return await app.db.fetch_one(sql, {"n": name}) is not None


async def test_history_sync_drops_rows_of_missing_files_only(app: App) -> None:
    directory = app.config.migrations_path
    write(directory, "1700000001_kept.py", COLLECTION_MIGRATION.format(name="kept"))
    write(directory, "1700000002_gone.py", COLLECTION_MIGRATION.format(name="gone"))
    await runner(app).up()
    (directory / "1700000002_gone.py").unlink()
    async with app.db.transaction() as conn:  # a row another tool wrote stays
        await conn.execute('INSERT INTO "_migrations" ("file", "applied") VALUES (:f, 1)', {"f": "1640988000_init.go"})
    assert await runner(app).history_sync() == ["1700000002_gone.py"]
    applied = await runner(app).applied()
    assert "1700000001_kept.py" in applied and "1700000002_gone.py" not in applied
    assert "1_initial_collections" in applied and "1640988000_init.go" in applied
    assert await runner(app).history_sync() == []


def test_create_writes_a_blank_template_that_sorts_last(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    write(directory, "9999999999_future.py", "async def up(app):\n    pass\n")
    path = create_blank(directory, "add some field!")
    assert path.name == "10000000000_add_some_field.py"
    text = path.read_text()
    assert "async def up(app):" in text and "async def down(app):" in text
    loaded = load_dir(directory)
    assert [m.file for m in loaded] == ["9999999999_future.py", "10000000000_add_some_field.py"]
    assert next_file(directory, "x").name == "10000000001_x.py"


def test_a_broken_file_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "1700000001_bad.py", "async def up(app):\n    pass\n\ndef down(:\n")
    with pytest.raises(MigrationError, match=r"^1700000001_bad.py:4: invalid syntax"):
        load_dir(tmp_path)
    (tmp_path / "1700000001_bad.py").write_text("import math\n\nx = 1 / 0\n")
    with pytest.raises(MigrationError, match=r"^1700000001_bad.py:3: ZeroDivisionError"):
        load_dir(tmp_path)
    (tmp_path / "1700000001_bad.py").write_text("async def down(app):\n    pass\n")
    with pytest.raises(MigrationError, match=r"defines no `async def up\(app\)`"):
        load_dir(tmp_path)
    (tmp_path / "1700000001_bad.py").unlink()
    (tmp_path / "notes.py").write_text("this is not a migration")
    assert load_dir(tmp_path) == [] and load_dir(tmp_path / "missing") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
async def test_instances_starting_together_apply_each_migration_once(backend: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    for stamp, name in ((1700000001, "alpha"), (1700000002, "beta")):
        write(directory, f"{stamp}_{name}.py", COLLECTION_MIGRATION.format(name=name))
    try:
        async with temporary_database(backend) as database:
            apps = [App(Config(data_dir=tmp_path / "data", migrations_dir=directory, **database)) for _ in range(3)]
            try:
                await asyncio.gather(*(a.bootstrap() for a in apps))  # the system migration races too
                applied = await asyncio.gather(*(runner(a).up() for a in apps))
                assert sorted(f for names in applied for f in names) == ["1700000001_alpha.py", "1700000002_beta.py"]
                assert await user_history(apps[0]) == ["1700000001_alpha.py", "1700000002_beta.py"]
                assert len([c for c in (await apps[0].db.fetch_all('SELECT "name" FROM "_collections"')) if c["name"] == "users"]) == 1
            finally:
                await asyncio.gather(*(a.close() for a in apps))
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
