"""Zip archives of files on disk, written and read in chunks (never a whole member in memory).

Blocking functions: call them from a worker thread. Extraction refuses members that would land
outside the target directory (absolute paths, ``..``, links) and checks every member's CRC.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

#: the local file header, the empty-archive end record and the spanned-archive marker
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_CHUNK = 256 * 1024


class ArchiveError(Exception):
    """The archive is not a readable zip, or holds an unsafe or corrupt member."""


def looks_like_zip(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts like a zip archive."""
    return head[:4] in ZIP_MAGIC


def tree_entries(root: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """``(archive name, path)`` for every regular file under ``root``, names under ``prefix``."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                relative = path.relative_to(root).as_posix()
                yield (f"{prefix}/{relative}" if prefix else relative), path


def create_zip(dest: Path, entries: Iterable[tuple[str, Path]]) -> None:
    """Write ``entries`` (archive name, file) to a new zip at ``dest``, deflated at speed."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as archive:
        for name, path in entries:
            archive.write(path, name)


def _safe_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or any(part in ("..", "") for part in path.parts) or ":" in path.parts[0]:
        raise ArchiveError(f"unsafe archive member {name!r}")
    return path.as_posix()


def member_names(src: Path) -> list[str]:
    """The file names in the archive (directories left out); raises ArchiveError if unreadable."""
    try:
        with zipfile.ZipFile(src) as archive:
            return [_safe_name(info.filename) for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"not a valid zip archive: {exc}") from exc


def extract_zip(src: Path, dest: Path) -> list[str]:
    """Extract every member of ``src`` into ``dest`` (created), checking names and CRCs; returns
    the member names. A failure leaves a partial ``dest`` for the caller to remove."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    try:
        with zipfile.ZipFile(src) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ArchiveError(f"archive member {info.filename!r} is a link")
                name = _safe_name(info.filename)
                target = dest.joinpath(*name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)  # a bad CRC raises at the member's end
                names.append(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(f"not a valid zip archive: {exc}") from exc
    return names


__all__ = ["ZIP_MAGIC", "ArchiveError", "create_zip", "extract_zip", "looks_like_zip", "member_names", "tree_entries"]
