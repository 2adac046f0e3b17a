"""The example migration of ``docs/migrations.md`` runs as written: up, then down."""

from __future__ import annotations

import re
from pathlib import Path

from roost.core.migrations import MigrationsRunner, load_dir
from roost.testing import make_test_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrations.md"


async def test_the_documented_migration_applies_and_reverts(tmp_path: Path) -> None:
    example = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert example is not None
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1733212800_add_posts.py").write_text(example.group(1))
    async with make_test_app(tmp_path / "data", migrations_dir=directory) as api:
        assert api.app.collections.get("posts") is not None  # applied when the app started
        user = await api.su("POST", "/api/collections/users/records",
                            json={"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})
        assert user.status_code == 200 and user.json()["name"] == ""
        assert await MigrationsRunner(api.app, load_dir(directory)).down() == ["1733212800_add_posts.py"]
        assert api.app.collections.get("posts") is None
