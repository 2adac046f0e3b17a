"""Uploaded files on records: naming, type detection, validation and storage side effects.

New files are written before the record's transaction commits and removed again if it fails;
files a change drops are deleted only after the commit, so a failed write never loses data.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from roost.core.errors import BadRequest, FieldError
from roost.core.records.body import settable_field
from roost.core.schema.collection import Collection
from roost.tools.storage import StorageError

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.storage")
_ALPHABET = string.ascii_lowercase + string.digits
_EXT_INVALID = re.compile(r"[^\w.*\-+=#]+")
_SNAKE_SPLIT = re.compile(r"[^0-9a-zA-Z]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")

#: (magic prefix, offset, MIME type) for the binary formats users upload most
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"ftyp", 4, "video/mp4"),
)


#: bytes of a file-backed upload read for type detection (smaller files are read whole)
HEAD_BYTES = 1 << 20


@dataclass
class Upload:
    """One uploaded file as core sees it (transport-neutral).

    ``data`` holds the whole file, or for an upload backed by ``file`` (a spooled temp file) only
    its first :data:`HEAD_BYTES`: such a file is copied to storage in chunks, never read whole.
    """

    original_name: str
    data: bytes
    name: str = ""
    content_type: str = field(default="")
    file: BinaryIO | None = None
    file_size: int = 0

    @classmethod
    def from_file(cls, original_name: str, file: BinaryIO) -> Upload:
        size = file.seek(0, os.SEEK_END)
        file.seek(0)
        head = file.read(HEAD_BYTES)
        return cls(original_name, head, file=file, file_size=size)

    @property
    def size(self) -> int:
        return self.file_size if self.file is not None else len(self.data)

    def content(self) -> bytes | BinaryIO:
        """What storage receives: the bytes, or the file rewound to its start."""
        if self.file is None:
            return self.data
        self.file.seek(0)
        return self.file


def random_part(length: int = 10) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def snake_case(text: str) -> str:
    text = _CAMEL.sub(r"\1_\2", text)
    return "_".join(p for p in _SNAKE_SPLIT.split(text) if p).lower()


def stored_name(original: str) -> str:
    """``Hello World.TXT`` -> ``hello_world_<10 random>.TXT`` (short names get extra randomness)."""
    base, dot, ext = original.rpartition(".")
    if not dot:
        base, ext = original, ""
    clean_ext = _EXT_INVALID.sub("", ext)
    clean = snake_case(base)
    if len(clean) < 3:
        clean += random_part()
    clean = clean[:100]
    return f"{clean}_{random_part()}" + (f".{clean_ext}" if clean_ext else "")


def detect_mime(data: bytes) -> str:
    """A content-based MIME type (the client's claim is not trusted)."""
    for magic, offset, mime in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    head = data[:512].lstrip()
    if head[:5].lower() == b"<?xml" or head[:4].lower() == b"<svg":
        return "image/svg+xml" if b"<svg" in data[:2048].lower() else "text/xml"
    if head[:1] in (b"{", b"["):
        try:
            orjson.loads(data)
            return "application/json"
        except orjson.JSONDecodeError:
            pass
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def record_prefix(coll: Collection, record_id: str) -> str:
    return f"{coll.id}/{record_id}"


def thumbs_prefix(coll: Collection, record_id: str, filename: str) -> str:
    """Where the thumbs of a file live (``roost.core.records.thumbs``)."""
    return f"{record_prefix(coll, record_id)}/thumbs_{filename}"


@dataclass
class FilePlan:
    """What a write does to storage: files to add now, files to delete after commit."""

    new: list[tuple[str, Upload]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def apply_uploads(
    coll: Collection,
    record: dict[str, Any],
    original: dict[str, Any] | None,
    body: dict[str, Any],
    files: dict[str, list[Upload]],
    *,
    is_superuser: bool,
) -> tuple[FilePlan, dict[str, FieldError]]:
    """Merge uploads into ``record`` file values; returns the storage plan and upload errors."""
    plan = FilePlan()
    errors: dict[str, FieldError] = {}
    for key, uploads in files.items():
        target = settable_field(coll, key, is_superuser=is_superuser)
        if target is None or target[0].type != "file" or not uploads:
            continue
        fld, modifier = target
        name = fld.name
        for upload in uploads:
            upload.name = stored_name(upload.original_name or "file")
            upload.content_type = detect_mime(upload.data)
        current = _names(record.get(name))
        if modifier == "" and name not in body:
            current = []  # plain key with only uploads replaces the field's files
        err = fld.validate_uploads(current, uploads)  # type: ignore[attr-defined]
        if err is not None:
            errors[name] = err
            continue
        added = [u.name for u in uploads]
        merged = added + current if modifier == "^" else current + added
        record[name] = merged if fld.is_multiple() else merged[-1]
        plan.new.extend((u.name, u) for u in uploads)
    for fld in coll.fields:
        if fld.type == "file" and original is not None:
            kept = set(_names(record.get(fld.name)))
            plan.removed.extend(n for n in _names(original.get(fld.name)) if n not in kept)
    return plan, errors


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [str(value)] if value else []


def file_values(coll: Collection, record: dict[str, Any]) -> set[str]:
    """Every stored filename referenced by ``record``."""
    return {n for f in coll.fields if f.type == "file" for n in _names(record.get(f.name))}


async def store_new(app: App, coll: Collection, record_id: str, plan: FilePlan) -> None:
    for name, upload in plan.new:
        content = upload.content()
        key = f"{record_prefix(coll, record_id)}/{name}"
        try:
            await (app.storage.put(key, content) if isinstance(content, bytes) else app.storage.put_file(key, content))
        except StorageError as exc:
            log.error("storing %s failed: %s", key, exc)
            raise BadRequest("Failed to upload the submitted files.") from exc


async def discard_new(app: App, coll: Collection, record_id: str, plan: FilePlan) -> None:
    for name, _ in plan.new:
        await app.storage.delete(f"{record_prefix(coll, record_id)}/{name}")


async def delete_removed(app: App, coll: Collection, record_id: str, plan: FilePlan) -> None:
    for name in plan.removed:
        await app.storage.delete(f"{record_prefix(coll, record_id)}/{name}")
        await app.storage.delete_prefix(thumbs_prefix(coll, record_id, name))
