"""``--automigrate``: each collection change made through the API becomes an applied migration
file whose ``up`` makes it and whose ``down`` reverts it; other changes write nothing."""

from __future__ import annotations

from pathlib import Path

from roost.config import Config
from roost.core.migrations import MigrationsRunner, load_dir
from roost.testing import TestApp, make_test_app

POSTS = {"name": "posts", "listRule": "", "fields": [{"name": "title", "type": "text", "required": True}]}


def files(directory: Path) -> list[str]:
    return sorted(p.name.split("_", 1)[1] for p in directory.glob("*.py")) if directory.is_dir() else []


async def history(api: TestApp) -> set[str]:
    return {str(r["file"]) for r in await api.app.db.fetch_all('SELECT "file" FROM "_migrations"')}


async def test_create_update_delete_write_applied_files_that_revert(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    async with make_test_app(tmp_path / "data", automigrate=True, migrations_dir=directory) as api:
        created = await api.su("POST", "/api/collections", json=POSTS)
        assert created.status_code == 200, created.text
        posts_id = created.json()["id"]
        assert files(directory) == ["created_posts.py"]
        text = next(directory.glob("*_created_posts.py")).read_text()
        assert f"'id': '{posts_id}'" in text and "'listRule': ''" in text

        res = await api.su("PATCH", "/api/collections/posts", json={"viewRule": "", "fields": [
            *created.json()["fields"], {"name": "views", "type": "number"}]})
        assert res.status_code == 200, res.text
        unchanged = await api.su("PATCH", "/api/collections/posts", json={"viewRule": ""})
        assert unchanged.status_code == 200
        assert files(directory) == ["created_posts.py", "updated_posts.py"]
        assert (await api.su("DELETE", "/api/collections/posts")).status_code == 204
        assert files(directory) == ["created_posts.py", "deleted_posts.py", "updated_posts.py"]
        # recorded as applied: nothing is pending on this database
        migrations = load_dir(directory)
        assert {m.file for m in migrations} <= await history(api)
        runner = MigrationsRunner(api.app, migrations)
        assert await runner.pending() == []

        # down re-creates the deleted collection, then takes the update back, then removes it
        await runner.down()
        restored = api.app.collections.get("posts")
        assert restored is not None and restored.id == posts_id
        assert {f.name for f in restored.fields} >= {"title", "views"} and restored.rules["viewRule"] == ""
        await runner.down()
        reverted = api.app.collections.get("posts")
        assert reverted is not None and "views" not in {f.name for f in reverted.fields}
        assert reverted.rules["viewRule"] is None
        await runner.down()
        assert api.app.collections.get("posts") is None
        # and up replays all three
        assert len(await runner.up()) == 3
        assert api.app.collections.get("posts") is None
        # the runner's own changes wrote no file
        assert len(files(directory)) == 3


async def test_an_import_writes_one_file_per_changed_collection(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    async with make_test_app(tmp_path / "data", automigrate=True, migrations_dir=directory) as api:
        tags = {"name": "tags", "fields": [{"name": "label", "type": "text"}]}
        res = await api.su("PUT", "/api/collections/import", json={"collections": [POSTS, tags]})
        assert res.status_code == 204, res.text
        assert files(directory) == ["created_posts.py", "created_tags.py"]


async def test_changes_not_made_through_the_api_write_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1700000000_seed.py").write_text(
        "from roost.migrations import collections\n\n"
        "async def up(app):\n    await collections.create(app, {'name': 'seeded', 'fields': []})\n\n"
        "async def down(app):\n    await collections.delete(app, 'seeded')\n"
    )
    async with make_test_app(tmp_path / "data", dev=True, migrations_dir=directory) as api:
        assert api.app.collections.get("seeded") is not None  # serve applied the pending file
        await api.app.collections.create({"name": "from_code", "fields": []})
        assert files(directory) == ["seed.py"]
        assert (await api.su("POST", "/api/collections", json=POSTS)).status_code == 200
        assert files(directory) == ["created_posts.py", "seed.py"]  # --dev turns automigrate on


async def test_automigrate_is_off_unless_asked(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    async with make_test_app(tmp_path / "data", migrations_dir=directory) as api:
        assert (await api.su("POST", "/api/collections", json=POSTS)).status_code == 200
    assert files(directory) == []
    assert not Config(dev=True, automigrate=False).automigrate_enabled
    assert Config(data_dir=tmp_path / "d").migrations_path == tmp_path / "roost_migrations"
