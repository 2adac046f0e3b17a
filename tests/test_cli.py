"""The command line: PocketBase's commands and flags, and one-line errors instead of tracebacks."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOST = [str(Path(sys.executable).parent / "roost")]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOST, *args], capture_output=True, text=True, timeout=timeout)


def test_version() -> None:
    out = run("version")
    assert out.returncode == 0 and out.stdout.startswith("roost version ")


def test_superuser_lifecycle(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert run("superuser", "create", "a@example.com", "password123", "--dir", data).returncode == 0
    dup = run("superuser", "create", "a@example.com", "password123", "--dir", data)
    assert dup.returncode == 1 and "already exists" in dup.stderr and "Traceback" not in dup.stderr
    assert run("superuser", "update", "a@example.com", "password456", "--dir", data).returncode == 0
    assert run("superuser", "upsert", "b@example.com", "password123", "--dir", data).returncode == 0
    short = run("superuser", "upsert", "c@example.com", "short", "--dir", data)
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr
    deleted = run("superuser", "delete", "a@example.com", "--dir", data)
    assert deleted.returncode == 0 and "Deleted" in deleted.stdout


def test_bad_flag_is_one_line_usage_error() -> None:
    out = run("serve", "--nope")
    assert out.returncode == 2 and "No such option" in out.stderr and "Traceback" not in out.stderr
    out = run("serve", "--http", "nonsense")
    assert out.returncode == 2 and "HOST:PORT" in out.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    out = run("serve", "--dir", str(tmp_path), "--db-url", "postgresql://nobody@127.0.0.1:1/none")
    assert out.returncode == 1 and "Error: Cannot open the database" in out.stderr and "Traceback" not in out.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        out = run("serve", "--dir", str(tmp_path), "--http", f"127.0.0.1:{port}")
    assert out.returncode == 1 and "already in use" in out.stderr and "Traceback" not in out.stderr


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = run("serve", "--dir", str(blocker / "data"))
    assert out.returncode == 1 and "not writable" in out.stderr and "Traceback" not in out.stderr


def test_a_memory_cache_per_worker_beside_redis_is_refused(tmp_path: Path) -> None:
    out = run("serve", "--dir", str(tmp_path), "--workers", "2", "--redis-url", "redis://127.0.0.1:1/0",
              "--cache-url", "memory://")  # fmt: skip
    assert out.returncode == 1 and "memory://" in out.stderr


def test_backup_create_list_and_restore(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("superuser", "upsert", "cli@example.com", "password123", "--dir", data).returncode == 0
    made = run("backup", "create", "first.zip", "--dir", data)
    assert made.returncode == 0 and made.stdout.strip() == "Backup first.zip created."
    again = run("backup", "create", "first.zip", "--dir", data)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert run("superuser", "delete", "cli@example.com", "--dir", data).returncode == 0
    listed = run("backup", "list", "--dir", data).stdout.split("\t")
    assert listed[0] == "first.zip" and int(listed[1]) > 0
    copy = tmp_path / "copy.zip"
    copy.write_bytes((tmp_path / "data" / "backups" / "first.zip").read_bytes())
    restored = run("backup", "restore", str(copy), "--dir", data)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "Backup copy.zip restored."
    # the superuser deleted after the backup is back
    assert run("superuser", "update", "cli@example.com", "password456", "--dir", data).returncode == 0
    missing = run("backup", "restore", "nope.zip", "--dir", data)
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: Missing or invalid backup file."
