"""Noticing a change in the hooks directory by looking at it (no file-system events needed, so it
works the same on network mounts and in containers)."""

from __future__ import annotations

from pathlib import Path


def snapshot(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, modification time and size of each ``*.py`` file: differs after any edit, add or removal."""
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(directory.glob("*.py")):
        try:
            stat = path.stat()
        except OSError:  # removed while we looked
            continue
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)
