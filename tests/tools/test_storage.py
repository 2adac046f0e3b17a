"""The storage contract on every backend (local disk, S3 through moto), and streaming that never
holds a large file whole in memory."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.tools.storage import FallbackStorage, LocalStorage, Storage, StorageError
from tests.s3_services import MotoS3

BIG = 64 << 20  # larger than the S3 multipart threshold and than the few parts an upload buffers


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    from roost.tools.storage.s3 import S3Config, S3Storage

    server: MotoS3 = request.getfixturevalue("s3_server")
    settings = server.settings(server.new_bucket())
    return S3Storage(S3Config.from_settings(settings))


async def _read(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_contract(storage: Storage) -> None:
    assert await storage.get("c/r/missing.txt") is None and await storage.size("c/r/missing.txt") is None
    await storage.put("c/r/a.txt", b"0123456789")
    await storage.put("c/r/b.txt", b"bee")
    await storage.put("c/other/c.txt", b"sea")
    assert await storage.get("c/r/a.txt") == b"0123456789" and await storage.size("c/r/a.txt") == 10
    assert await _read(storage.stream("c/r/a.txt", 2, 4)) == b"234"
    assert await _read(storage.stream("c/r/a.txt", 7)) == b"789"
    await storage.delete("c/r/b.txt")
    await storage.delete("c/r/never-there.txt")
    assert await storage.get("c/r/b.txt") is None
    await storage.delete_prefix("c/r")
    assert await storage.get("c/r/a.txt") is None and await storage.get("c/other/c.txt") == b"sea"
    for bad in ("../x", "c/../../x", "", "c/\x00"):
        with pytest.raises(StorageError):
            await storage.put(bad, b"x")


async def test_fallback_reads_older_backends_and_deletes_everywhere(tmp_path: Path) -> None:
    old, new = LocalStorage(tmp_path / "old"), LocalStorage(tmp_path / "new")
    await old.put("c/r/old.txt", b"old")
    both = FallbackStorage(new, [old])
    await both.put("c/r/new.txt", b"new")
    assert await new.get("c/r/new.txt") == b"new" and await old.get("c/r/new.txt") is None
    assert await both.get("c/r/old.txt") == b"old" and await both.size("c/r/old.txt") == 3
    assert await _read(both.stream("c/r/old.txt", 1)) == b"ld"
    await both.delete_prefix("c/r")
    assert await old.get("c/r/old.txt") is None and await new.get("c/r/new.txt") is None


async def test_a_large_file_streams_in_bounded_memory(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(BIG // (1 << 20)):
            out.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        with source.open("rb") as file:
            await storage.put_file("c/r/big.bin", file)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        size, head = 0, b""
        async for chunk in storage.stream("c/r/big.bin"):
            size += len(chunk)
            head = head or chunk[:16]
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == BIG and head == source.read_bytes()[:16]
    assert upload_peak < 24 << 20, f"upload held {upload_peak} bytes"
    assert download_peak < 8 << 20, f"download held {download_peak} bytes"
    assert await storage.size("c/r/big.bin") == BIG


async def test_s3_uploads_a_large_file_in_parts(tmp_path: Path, s3_server: MotoS3) -> None:
    from roost.tools.storage.s3 import S3Config, S3Storage

    bucket = s3_server.new_bucket()
    storage = S3Storage(S3Config.from_settings(s3_server.settings(bucket)))
    source = tmp_path / "parts.bin"
    source.write_bytes(os.urandom(20 << 20))
    with source.open("rb") as file:
        await storage.put_file("c/r/parts.bin", file)
    etag = s3_server.head(bucket, "c/r/parts.bin")["ETag"].strip('"')
    assert etag.endswith("-4")  # a multipart upload of four 5 MiB parts, not one whole-body PUT


async def test_an_unreachable_previous_bucket_counts_as_missing(tmp_path: Path) -> None:
    from roost.tools.storage import create_s3_storage
    from tests.s3_services import free_port

    gone = create_s3_storage({"bucket": "b", "region": "us-east-1", "endpoint": f"http://127.0.0.1:{free_port()}",
                              "accessKey": "k", "secret": "s", "forcePathStyle": True})  # fmt: skip
    with pytest.raises(StorageError):
        await gone.size("c/r/a.txt")
    local = LocalStorage(tmp_path / "storage")
    await local.put("c/r/a.txt", b"still here")
    both = FallbackStorage(local, [gone])
    assert await both.get("c/r/a.txt") == b"still here"
    assert await both.get("c/r/missing.txt") is None
    await both.delete("c/r/a.txt")
    assert await local.get("c/r/a.txt") is None


def test_invalid_s3_settings_are_a_storage_error() -> None:
    from roost.tools.storage import create_s3_storage

    with pytest.raises(StorageError):
        create_s3_storage({"bucket": ""})
    with pytest.raises(StorageError):
        create_s3_storage({"bucket": "b", "endpoint": "http://[::1"})
