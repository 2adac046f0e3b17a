"""``roost migrate create | up | down [N] | collections | history-sync`` and one-line failures."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOST = [str(Path(sys.executable).parent / "roost")]

NEW_COLLECTION = '''from roost.migrations import collections


async def up(app):
    await collections.create(app, {"name": "NAME", "fields": [{"name": "title", "type": "text"}]})


async def down(app):
    await collections.delete(app, "NAME")
'''


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOST, *args], capture_output=True, text=True, timeout=60, input=stdin)


def collection_names(data: Path) -> set[str]:
    with sqlite3.connect(data / "data.db") as db:
        return {r[0] for r in db.execute('SELECT "name" FROM "_collections" WHERE NOT "system"')}


def test_migrate_commands(tmp_path: Path) -> None:
    data, migrations = tmp_path / "pb" / "data", tmp_path / "pb" / "roost_migrations"  # the default dir
    flags = ("--dir", str(data))
    created = run("migrate", "create", "add_posts", *flags)
    assert created.returncode == 0, created.stderr
    (first,) = migrations.glob("*_add_posts.py")
    assert created.stdout.strip() == f"Created {first}"
    first.write_text(NEW_COLLECTION.replace("NAME", "posts"))
    run("migrate", "create", "add_tags", *flags)
    (second,) = migrations.glob("*_add_tags.py")
    second.write_text(NEW_COLLECTION.replace("NAME", "tags"))

    up = run("migrate", "up", *flags)
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines() == [f"Applied {first.name}", f"Applied {second.name}"]
    assert collection_names(data) >= {"posts", "tags"}
    assert run("migrate", "up", *flags).stdout.strip() == "No new migrations to apply."

    refused = run("migrate", "down", *flags, stdin="n\n")
    assert refused.returncode == 1 and "tags" in collection_names(data)
    down = run("migrate", "down", "2", "--yes", *flags)
    assert down.stdout.splitlines() == [f"Reverted {second.name}", f"Reverted {first.name}"], down.stderr
    assert not {"posts", "tags"} & collection_names(data)

    run("migrate", "up", *flags)
    snapshot = run("migrate", "collections", *flags)
    assert snapshot.returncode == 0 and "collections_snapshot.py" in snapshot.stdout
    second.unlink()
    synced = run("migrate", "history-sync", *flags)
    assert synced.stdout.strip() == f"Removed {second.name} from the history"
    # the snapshot is pending on this database; applying it changes nothing
    assert "collections_snapshot.py" in run("migrate", "up", *flags).stdout
    assert collection_names(data) >= {"posts", "tags"}


def test_a_failing_migration_stops_migrate_up_and_serve(tmp_path: Path) -> None:
    migrations = tmp_path / "elsewhere"
    migrations.mkdir()
    (migrations / "1700000000_boom.py").write_text("async def up(app):\n    raise ValueError('no way')\n")
    flags = ("--dir", str(tmp_path / "data"), "--migrationsDir", str(migrations))
    out = run("migrate", "up", *flags)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == "Error: failed to apply 1700000000_boom.py: ValueError: no way"
    # serve applies pending migrations as it starts, with every plugin's hooks bound: a failure stops it
    served = run("serve", *flags, "--http", f"127.0.0.1:{free_port()}")
    assert served.returncode == 3, served.stderr
    # start-up failures are log lines (JSON on stdout by default)
    assert "MigrationError: failed to apply 1700000000_boom.py: ValueError: no way" in served.stdout + served.stderr
    # a file that does not even load is refused before starting, in one line
    (migrations / "1700000001_typo.py").write_text("async def up(app):\n    pass\n\ndef down(:\n")
    refused = run("serve", *flags, "--http", f"127.0.0.1:{free_port()}")
    assert refused.returncode == 1 and refused.stderr.strip() == "Error: 1700000001_typo.py:4: invalid syntax"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
